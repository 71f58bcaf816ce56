"""Pure DDL for a VectorIndex stored in pgvector: one table per index, secured like every tenant table.

The VectorIndex reconciler applies these statements; the runtime only reads and writes rows under RLS. Nothing
here touches the network, so the statements are unit-tested as text.
"""

from __future__ import annotations

import hashlib
import re

from neuroedge_operator.db import migrations

MAX_IDENTIFIER = 63  # PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes
DISTANCE_OPCLASS = {"Cosine": "vector_cosine_ops", "Dot": "vector_ip_ops", "Euclid": "vector_l2_ops"}
MAX_HNSW_DIMENSION = 2000  # pgvector cannot build an HNSW index on `vector` columns wider than this
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


def create_table_sql(name: str, dimension: int, distance: str) -> list[str]:
    """Statements creating the table `neuroedge.<name>` of a VectorIndex, idempotently.

    Rows are keyed by (tenant_id, id); RLS is enabled and forced, the runtime role sees the rows of
    `app.current_tenant` only; an HNSW index with the operator class of the distance serves the searches and a
    GIN index on the payload serves the metadata filters.
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
        statements.append(
            f"CREATE INDEX IF NOT EXISTS {quote_ident(_index_name(name, 'hnsw'))} ON {table} "
            f"USING hnsw (embedding {DISTANCE_OPCLASS[distance]})"
        )
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
