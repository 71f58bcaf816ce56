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
