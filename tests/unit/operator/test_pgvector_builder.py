"""The pure DDL of a pgvector-backed VectorIndex."""

from __future__ import annotations

import pytest

from neuroedge_operator.builders import pgvector


def test_storage_name_joins_tenant_and_index_with_underscores() -> None:
    assert pgvector.storage_name("acme-corp", "product-docs") == "vec_acme_corp__product_docs"


def test_long_storage_names_are_truncated_with_a_distinguishing_hash() -> None:
    tenant = "t" + "x" * 39
    a = pgvector.storage_name(tenant, "index-" + "a" * 50)
    b = pgvector.storage_name(tenant, "index-" + "a" * 49 + "b")
    assert len(a) == len(b) == 63
    assert a != b and a.startswith("vec_t")
    assert pgvector.storage_name(tenant, "index-" + "a" * 50) == a  # deterministic


@pytest.mark.parametrize(
    ("tenant", "index"), [("Acme", "x"), ("acme", "bad_name"), ("acme", ""), ("-a", "x")]
)
def test_storage_name_rejects_non_dns_labels(tenant: str, index: str) -> None:
    with pytest.raises(ValueError, match="not a DNS label"):
        pgvector.storage_name(tenant, index)


@pytest.mark.parametrize(
    ("distance", "opclass"),
    [("Cosine", "vector_cosine_ops"), ("Dot", "vector_ip_ops"), ("Euclid", "vector_l2_ops")],
)
def test_table_ddl_secures_and_indexes_the_table(distance: str, opclass: str) -> None:
    sql = "\n".join(pgvector.create_table_sql("vec_a__b", 384, distance))
    table = 'neuroedge."vec_a__b"'
    assert f"CREATE TABLE IF NOT EXISTS {table} (" in sql
    for column in (
        "id text",
        "tenant_id text",
        "embedding vector(384)",
        "payload jsonb",
        "created_at timestamptz",
    ):
        assert column in sql
    assert "PRIMARY KEY (tenant_id, id)" in sql
    assert f"ALTER TABLE {table} OWNER TO neuroedge_owner" in sql
    assert f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY" in sql
    assert f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY" in sql
    assert f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO neuroedge_runtime" in sql
    assert (
        f"CREATE POLICY runtime_current_tenant ON {table} TO neuroedge_runtime "
        "USING (tenant_id = current_setting('app.current_tenant', true)) "
        "WITH CHECK (tenant_id = current_setting('app.current_tenant', true))"
    ) in sql
    assert f"USING hnsw (embedding {opclass})" in sql
    assert "USING gin (payload jsonb_path_ops)" in sql


def test_wide_vectors_get_no_hnsw_index() -> None:
    sql = "\n".join(pgvector.create_table_sql("vec_a__b", 4096, "Cosine"))
    assert "vector(4096)" in sql and "hnsw" not in sql


@pytest.mark.parametrize(
    ("name", "dimension", "distance", "message"),
    [
        ("vec_a__b", 0, "Cosine", "dimension"),
        ("vec_a__b", 16001, "Cosine", "dimension"),
        ("vec_a__b", 3, "Manhattan", "distance"),
        ('vec"; DROP TABLE x; --', 3, "Cosine", "storage name"),
        ("v" * 64, 3, "Cosine", "storage name"),
    ],
)
def test_invalid_arguments_are_refused(name: str, dimension: int, distance: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pgvector.create_table_sql(name, dimension, distance)


def test_drop() -> None:
    assert pgvector.drop_table_sql("vec_a__b") == ['DROP TABLE IF EXISTS neuroedge."vec_a__b"']


def test_hnsw_index_carries_its_parameters_in_options_and_name() -> None:
    statement = pgvector.hnsw_index_sql("vec_a__b", "Euclid", 24, 64, concurrently=True)
    assert statement.startswith('CREATE INDEX CONCURRENTLY IF NOT EXISTS "vec_a__b_hnsw_m24_ef64"')
    assert "USING hnsw (embedding vector_l2_ops) WITH (m = 24, ef_construction = 64)" in statement
    with pytest.raises(ValueError, match="out of range"):
        pgvector.hnsw_index_sql("vec_a__b", "Euclid", 1, 64)


def test_hnsw_parameters_read_back_with_pgvector_defaults() -> None:
    assert pgvector.hnsw_parameters(["m=24", "ef_construction=64"]) == (24, 64)
    assert pgvector.hnsw_parameters(None) == (16, 64)


@pytest.mark.parametrize(
    ("kind", "method", "fragment"),
    [
        ("keyword", "btree", "(payload #>> '{meta,lang}')"),
        ("datetime", "btree", "(payload #>> '{meta,lang}')"),
        ("bool", "btree", "(payload #>> '{meta,lang}')"),
        ("integer", "btree", "jsonb_typeof(payload #> '{meta,lang}') = 'number'"),
        ("float", "btree", "::numeric"),
        ("text", "gin", "to_tsvector('simple'::regconfig"),
    ],
)
def test_payload_indexes_by_type(kind: str, method: str, fragment: str) -> None:
    create, comment = pgvector.payload_index_sql("vec_a__b", "meta.lang", kind)
    assert f"USING {method} (" in create and fragment in create
    assert pgvector.parse_payload_comment(comment.split(" IS ", 1)[1].strip("'")) == ("meta.lang", kind)


def test_payload_index_names_are_unique_per_field_and_type_and_short() -> None:
    names = {pgvector.payload_index_name("v" * 63, f, t) for f in ("a", "b") for t in ("keyword", "text")}
    assert len(names) == 4 and all(len(n) <= 63 for n in names)


@pytest.mark.parametrize("field", ["a'b", "a;b", "a..b", ""])
def test_payload_fields_never_become_sql(field: str) -> None:
    with pytest.raises(ValueError, match="payload field"):
        pgvector.payload_index_sql("vec_a__b", field, "keyword")


def test_foreign_index_comments_are_not_ours() -> None:
    assert pgvector.parse_payload_comment(None) is None
    assert pgvector.parse_payload_comment("something else") is None
    assert pgvector.parse_payload_comment(pgvector.PAYLOAD_COMMENT + "{not json") is None


def test_secure_sql_gives_the_table_to_its_tenant_only() -> None:
    sql = "\n".join(pgvector.secure_sql("vec_acme__b", "acme", ("ne_tenant_evil",), ("tenant_evil",)))
    table = 'neuroedge."vec_acme__b"'
    assert f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY" in sql
    assert f"REVOKE ALL ON {table} FROM PUBLIC" in sql
    assert f'REVOKE ALL ON {table} FROM "ne_tenant_evil"' in sql
    assert f'DROP POLICY IF EXISTS "tenant_evil" ON {table}' in sql
    quoted = '"neuroedge"."vec_acme__b"'  # the tenant-table builders quote the schema too
    assert f'GRANT DELETE, INSERT, SELECT, UPDATE ON {quoted} TO "ne_tenant_acme"' in sql
    assert (
        f'CREATE POLICY "tenant_acme" ON {quoted} AS PERMISSIVE FOR ALL TO "ne_tenant_acme" '
        "USING (tenant_id = 'acme'::text) WITH CHECK (tenant_id = 'acme'::text)"
    ) in sql
    assert f"CREATE POLICY runtime_current_tenant ON {table}" in sql


def test_count_is_exact_only_below_the_limit() -> None:
    statement = pgvector.count_sql("vec_a__b")
    assert f"WHEN c.reltuples >= {pgvector.EXACT_COUNT_LIMIT} THEN c.reltuples::bigint" in statement
    assert 'ELSE (SELECT count(*) FROM neuroedge."vec_a__b") END' in statement
