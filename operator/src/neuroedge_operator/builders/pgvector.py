"""Pure DDL for a VectorIndex stored in pgvector: one table per index, secured like every tenant table.

The VectorIndex reconciler applies these statements; the runtime only reads and writes rows under RLS. Nothing
here touches the network, so the statements are unit-tested as text.
"""

from __future__ import annotations

import hashlib
import json
import re

from neuroedge_operator.builders import sql
from neuroedge_operator.db import migrations

MAX_IDENTIFIER = 63  # PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes
DISTANCE_OPCLASS = {"Cosine": "vector_cosine_ops", "Dot": "vector_ip_ops", "Euclid": "vector_l2_ops"}
MAX_HNSW_DIMENSION = 2000  # pgvector cannot build an HNSW index on `vector` columns wider than this
OPCLASS_DISTANCE = {opclass: distance for distance, opclass in DISTANCE_OPCLASS.items()}
DEFAULT_M, DEFAULT_EF_CONSTRUCT = 16, 100  # the CRD's defaults
PGVECTOR_DEFAULTS = {"m": 16, "ef_construction": 64}  # what pgvector uses for an index built without options
RUNTIME_POLICY = "runtime_current_tenant"
EXACT_COUNT_LIMIT = 1_000_000  # rows; beyond, the point count is PostgreSQL's estimate
PAYLOAD_COMMENT = "neuroedge.io/payload-index "
_PATH_PART = re.compile(r"^[A-Za-z0-9_]+$")
_NAME = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")


def storage_name(tenant: str, index: str) -> str:
    """`vec_<tenant>__<index>` with `-` as `_`; shortened with a hash suffix when longer than 63 characters,
    so that two long names never collapse into one table (or Qdrant collection)."""
    for value in (tenant, index):
        if not _NAME.match(value):
            raise ValueError(f"not a DNS label: {value!r}")
    full = f"vec_{tenant.replace('-', '_')}__{index.replace('-', '_')}"
    if len(full) <= MAX_IDENTIFIER:
        return full
    digest = hashlib.sha256(f"{tenant}/{index}".encode()).hexdigest()[:10]
    return f"{full[: MAX_IDENTIFIER - len(digest) - 1]}_{digest}"


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (embedded quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def create_table_sql(
    name: str, dimension: int, distance: str, m: int = DEFAULT_M, ef_construct: int = DEFAULT_EF_CONSTRUCT
) -> list[str]:
    """Statements creating the table `neuroedge.<name>` of a VectorIndex, idempotently.

    Rows are keyed by (tenant_id, id); RLS is enabled and forced, the runtime role sees the rows of
    `app.current_tenant` only; an HNSW index with the operator class of the distance serves the searches and a
    GIN index on the payload serves the metadata filters. The tenant's own role and policy come from
    `secure_sql` (the reconciler runs both).
    """
    if not 1 <= dimension <= 16000:
        raise ValueError(f"dimension must be between 1 and 16000, got {dimension}")
    if distance not in DISTANCE_OPCLASS:
        raise ValueError(f"distance must be one of {sorted(DISTANCE_OPCLASS)}, got {distance!r}")
    if len(name) > MAX_IDENTIFIER or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"not a storage name: {name!r}")
    schema = migrations.SCHEMA
    table = f"{schema}.{quote_ident(name)}"
    setting = migrations.TENANT_SETTING
    statements = [
        f"CREATE TABLE IF NOT EXISTS {table} ("
        "id text NOT NULL CHECK (length(id) BETWEEN 1 AND 256), "
        "tenant_id text NOT NULL, "
        f"embedding vector({dimension}) NOT NULL, "
        "payload jsonb NOT NULL DEFAULT '{}'::jsonb, "
        "created_at timestamptz NOT NULL DEFAULT now(), "
        "PRIMARY KEY (tenant_id, id))",
        f"ALTER TABLE {table} OWNER TO {migrations.OWNER_ROLE}",
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {migrations.RUNTIME_ROLE}",
        f"DROP POLICY IF EXISTS runtime_current_tenant ON {table}",
        f"CREATE POLICY runtime_current_tenant ON {table} TO {migrations.RUNTIME_ROLE} "
        f"USING (tenant_id = current_setting('{setting}', true)) "
        f"WITH CHECK (tenant_id = current_setting('{setting}', true))",
        f"CREATE INDEX IF NOT EXISTS {quote_ident(_index_name(name, 'pl'))} ON {table} "
        "USING gin (payload jsonb_path_ops)",
    ]
    if dimension <= MAX_HNSW_DIMENSION:
        statements.append(hnsw_index_sql(name, distance, m, ef_construct))
    return statements


def drop_table_sql(name: str) -> list[str]:
    """Statements removing the table of a deleted VectorIndex."""
    return [f"DROP TABLE IF EXISTS {migrations.SCHEMA}.{quote_ident(name)}"]


def _index_name(table: str, suffix: str) -> str:
    candidate = f"{table}_{suffix}"
    if len(candidate) <= MAX_IDENTIFIER:
        return candidate
    digest = hashlib.sha256(candidate.encode()).hexdigest()[:8]
    return f"{table[: MAX_IDENTIFIER - len(suffix) - len(digest) - 2]}_{digest}_{suffix}"


def _table(name: str) -> str:
    return f"{migrations.SCHEMA}.{quote_ident(name)}"


def _index(name: str) -> str:
    return f"{migrations.SCHEMA}.{quote_ident(name)}"


def hnsw_index_name(table: str, m: int, ef_construct: int) -> str:
    """The HNSW index of a table, named after its parameters: a rebuild creates the new one beside the old
    one (no rename, no moment without an index) and a leftover of a failed build is recognisable."""
    return _index_name(table, f"hnsw_m{m}_ef{ef_construct}")


def hnsw_index_sql(table: str, distance: str, m: int, ef_construct: int, concurrently: bool = False) -> str:
    """CREATE INDEX for the HNSW index with the distance's operator class and the given parameters."""
    if not (2 <= m <= 100 and 4 <= ef_construct <= 1000):
        raise ValueError(f"HNSW m={m} ef_construct={ef_construct} out of range (2-100, 4-1000)")
    how = "CONCURRENTLY IF NOT EXISTS" if concurrently else "IF NOT EXISTS"
    return (
        f"CREATE INDEX {how} {quote_ident(hnsw_index_name(table, m, ef_construct))} ON {_table(table)} "
        f"USING hnsw (embedding {DISTANCE_OPCLASS[distance]}) "
        f"WITH (m = {m}, ef_construction = {ef_construct})"
    )


def hnsw_parameters(reloptions: list[str] | None) -> tuple[int, int]:
    """(m, ef_construct) of an HNSW index from `pg_class.reloptions` (pgvector's defaults when unset)."""
    options = dict(PGVECTOR_DEFAULTS)
    for item in reloptions or []:
        key, _, value = item.partition("=")
        if key in options and value.isdigit():
            options[key] = int(value)
    return options["m"], options["ef_construction"]


def drop_index_sql(index: str, concurrently: bool = False) -> str:
    """DROP INDEX (CONCURRENTLY: searches and writes go on while it is dropped)."""
    how = "CONCURRENTLY IF EXISTS" if concurrently else "IF EXISTS"
    return f"DROP INDEX {how} {_index(index)}"


def _path(field: str) -> str:
    parts = field.split(".")
    if not all(_PATH_PART.match(part) for part in parts):
        raise ValueError(f"not a payload field: {field!r}")
    return sql.quote_literal("{" + ",".join(parts) + "}")


def payload_expression(field: str, kind: str) -> tuple[str, str]:
    """(access method, indexed expression) of a payload index. Numbers index as numeric only when the value
    is a JSON number (never an error on other values, which would make inserts fail); text gets a GIN
    full-text index; keywords, booleans and datetimes (ISO strings sort in time order) a btree on the text."""
    path = _path(field)
    if kind in ("integer", "float"):
        return "btree", (
            f"(CASE WHEN jsonb_typeof(payload #> {path}) = 'number' THEN (payload #>> {path})::numeric END)"
        )
    if kind == "text":
        return "gin", f"to_tsvector('simple'::regconfig, COALESCE(payload #>> {path}, ''))"
    if kind in ("keyword", "bool", "datetime"):
        return "btree", f"(payload #>> {path})"
    raise ValueError(f"unknown payload index type {kind!r}")


def payload_index_name(table: str, field: str, kind: str) -> str:
    """A name unique per (table, field, type) within 63 characters."""
    digest = hashlib.sha256(f"{field}:{kind}".encode()).hexdigest()[:10]
    return _index_name(table, f"pi_{digest}")


def payload_index_sql(table: str, field: str, kind: str, concurrently: bool = False) -> list[str]:
    """CREATE INDEX for a payload field, then the comment that lets the reconciler recognise it later."""
    method, expression = payload_expression(field, kind)
    name = payload_index_name(table, field, kind)
    how = "CONCURRENTLY IF NOT EXISTS" if concurrently else "IF NOT EXISTS"
    marker = PAYLOAD_COMMENT + json.dumps({"field": field, "type": kind}, sort_keys=True)
    return [
        f"CREATE INDEX {how} {quote_ident(name)} ON {_table(table)} USING {method} ({expression})",
        f"COMMENT ON INDEX {_index(name)} IS {sql.quote_literal(marker)}",
    ]


def parse_payload_comment(comment: str | None) -> tuple[str, str] | None:
    """(field, type) from the comment of one of our payload indexes; None for any other index."""
    if not comment or not comment.startswith(PAYLOAD_COMMENT):
        return None
    try:
        data = json.loads(comment.removeprefix(PAYLOAD_COMMENT))
    except ValueError:
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("field"), str)
        or not isinstance(data.get("type"), str)
    ):
        return None
    return data["field"], data["type"]


def runtime_policy_expression() -> str:
    """The runtime policy's predicate as PostgreSQL prints it back in `pg_policies`."""
    return f"(tenant_id = current_setting('{migrations.TENANT_SETTING}'::text, true))"


def secure_sql(
    table: str, tenant: str, stray_roles: tuple[str, ...] = (), stray_policies: tuple[str, ...] = ()
) -> list[str]:
    """Owner, RLS (ENABLE + FORCE), privileges and policies of a VectorIndex table, like every tenant table:
    the runtime role through `app.current_tenant`, the tenant's own login role through `tenant_<t>`, and
    nobody else (stray grants are revoked, stray policies dropped)."""
    name = _table(table)
    role = sql.role_name(tenant)
    setting = migrations.TENANT_SETTING
    statements = [
        f"ALTER TABLE {name} OWNER TO {migrations.OWNER_ROLE}",
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
        f"REVOKE ALL ON {name} FROM PUBLIC",
        *(f"REVOKE ALL ON {name} FROM {sql.quote_ident(r)}" for r in stray_roles),
        *(f"DROP POLICY IF EXISTS {sql.quote_ident(p)} ON {name}" for p in stray_policies),
        f"REVOKE ALL ON {name} FROM {migrations.RUNTIME_ROLE}, {sql.quote_ident(role)}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {migrations.RUNTIME_ROLE}",
        sql.grant_table(role, table, sql.DML),
        f"DROP POLICY IF EXISTS {RUNTIME_POLICY} ON {name}",
        f"CREATE POLICY {RUNTIME_POLICY} ON {name} AS PERMISSIVE FOR ALL TO {migrations.RUNTIME_ROLE} "
        f"USING (tenant_id = current_setting('{setting}', true)) "
        f"WITH CHECK (tenant_id = current_setting('{setting}', true))",
        sql.drop_policy(table, tenant),
        sql.create_policy(table, tenant, role),
    ]
    return statements


def count_sql(table: str) -> str:
    """Rows of the table: exact below EXACT_COUNT_LIMIT (the CASE evaluates the count only then), the
    planner's estimate (`pg_class.reltuples`, kept by ANALYZE/autovacuum) above, so that the periodic count
    never scans a large table. The operator's admin role is not subject to RLS."""
    return (
        f"SELECT CASE WHEN c.reltuples >= {EXACT_COUNT_LIMIT} THEN c.reltuples::bigint "  # noqa: S608
        f"ELSE (SELECT count(*) FROM {_table(table)}) END "
        f"FROM pg_class c WHERE c.oid = {sql.quote_literal(_table(table))}::regclass"
    )
