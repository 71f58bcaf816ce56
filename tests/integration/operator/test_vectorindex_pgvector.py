"""The VectorIndex reconciler with the pgvector backend, end to end: a real operator process against the
real control plane and PostgreSQL; tenants' own login roles (from their credentials Secrets) prove the
isolation."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import operator_helpers
import pytest
import tenant_operator_process as operator_process
from operator_helpers import (
    apply_tenant,
    eventually,
    exists,
    get,
    kubectl,
    operator_env,
    secret_values,
    wait_ready,
)

from neuroedge_dev import procs
from neuroedge_operator.builders import pgvector

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def operator(
    kubeconfig: Path, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[operator_process.OperatorProcess]:
    env = operator_env(kubeconfig, database_url, redis_url, NEUROEDGE_RESYNC_INTERVAL="2")
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with operator_helpers.running_operator(env, log, log_lines=100000) as proc:
        yield proc


@pytest.fixture(scope="module")
def tenants(operator: operator_process.OperatorProcess, kubeconfig: Path) -> tuple[str, str]:
    """Two provisioned tenants, each with one namespace named after it."""
    suffix = uuid.uuid4().hex[:6]
    names = (f"va-{suffix}", f"vb-{suffix}")
    for name in names:
        apply_tenant(kubeconfig, name, {"namespaces": [name]})
    for name in names:
        wait_ready(kubeconfig, name)
    return names


def apply_index(kubeconfig: Path, namespace: str, name: str, **spec: Any) -> None:
    body = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "VectorIndex",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"backend": "pgvector", "dimension": 3, **spec},
    }
    kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(body))


def index_status(kubeconfig: Path, namespace: str, name: str) -> dict[str, Any]:
    return dict(get(kubeconfig, "vectorindex", name, "-n", namespace).get("status") or {})


def ready(kubeconfig: Path, namespace: str, name: str) -> dict[str, Any]:
    conds = index_status(kubeconfig, namespace, name).get("conditions", [])
    return next((c for c in conds if c["type"] == "Ready"), {})


def wait_index_ready(kubeconfig: Path, namespace: str, name: str) -> None:
    try:
        kubectl(
            kubeconfig,
            "wait",
            "--for=condition=Ready",
            f"vectorindex/{name}",
            "-n",
            namespace,
            "--timeout=60s",
        )
    except Exception as exc:
        raise AssertionError(f"{name} not Ready: {index_status(kubeconfig, namespace, name)}") from exc


async def hnsw_indexes(db: asyncpg.Connection, table: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT i.relname, i.reloptions, oc.opcname, x.indisvalid FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam "
            "JOIN pg_opclass oc ON oc.oid = x.indclass[0] "
            "WHERE x.indrelid = $1::regclass AND am.amname = 'hnsw'",
            f'neuroedge."{table}"',
        )
    )


async def insert_as_tenant(dsn: str, tenant: str, table: str, rows: dict[str, str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for point, vector in rows.items():
            await conn.execute(
                f'INSERT INTO neuroedge."{table}" (tenant_id, id, embedding, payload) '
                'VALUES ($1, $2, $3::vector, \'{"lang": "en"}\')',
                tenant,
                point,
                vector,
            )
    finally:
        await conn.close()


async def test_index_becomes_ready_with_table_indexes_and_registry_row(
    kubeconfig: Path, tenants: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    a, _ = tenants
    payload = [{"field": "lang", "type": "keyword"}, {"field": "price", "type": "float"}]
    apply_index(kubeconfig, a, "docs", distance="Dot", payloadIndexes=payload)
    wait_index_ready(kubeconfig, a, "docs")
    table = pgvector.storage_name(a, "docs")
    status = index_status(kubeconfig, a, "docs")
    assert status["storageName"] == table and status["pointCount"] == 0 and status["observedGeneration"] >= 1
    [hnsw] = await hnsw_indexes(admin_db, table)
    assert hnsw["opcname"] == "vector_ip_ops" and sorted(hnsw["reloptions"]) == [
        "ef_construction=100",
        "m=16",
    ]
    definitions = " ".join(
        r["indexdef"]
        for r in await admin_db.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", table)
    )
    assert "btree (((payload #>> '{lang}'::text[])))" in definitions
    assert "jsonb_typeof((payload #> '{price}'::text[]))" in definitions
    rls = await admin_db.fetchrow(
        "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = $1::regclass",
        f'neuroedge."{table}"',
    )
    assert rls["relrowsecurity"] and rls["relforcerowsecurity"]
    row = await admin_db.fetchrow(
        "SELECT backend, dimension, distance, storage_name FROM neuroedge.vector_indexes "
        "WHERE tenant_id = $1 AND name = 'docs'",
        a,
    )
    assert dict(row) == {"backend": "pgvector", "dimension": 3, "distance": "Dot", "storage_name": table}


async def test_tenant_b_role_cannot_see_tenant_a_vectors(
    kubeconfig: Path, tenants: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    a, b = tenants
    apply_index(kubeconfig, a, "secret-docs")
    wait_index_ready(kubeconfig, a, "secret-docs")
    table = pgvector.storage_name(a, "secret-docs")
    dsn_a, dsn_b = (secret_values(kubeconfig, t)["DATABASE_URL"] for t in (a, b))
    await insert_as_tenant(dsn_a, a, table, {"p1": "[1,0,0]", "p2": "[0,1,0]"})
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # A's role cannot write rows of B
        await insert_as_tenant(dsn_a, b, table, {"p3": "[0,0,1]"})
    conn_b = await asyncpg.connect(dsn_b)
    try:
        query = f'SELECT count(*) FROM neuroedge."{table}" WHERE tenant_id = $1'
        # Even claiming to be A through the runtime's setting, with an explicit WHERE: no privilege at all.
        await conn_b.execute("SELECT set_config('app.current_tenant', $1, false)", a)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn_b.fetchval(query, a)
        # A mistaken grant to B's role still shows B nothing (RLS), and the operator revokes it.
        await admin_db.execute(f'GRANT SELECT ON neuroedge."{table}" TO {b_role(b)}')
        assert await conn_b.fetchval(query, a) == 0

        async def revoked() -> bool:
            try:
                await conn_b.fetchval(query, a)
            except asyncpg.InsufficientPrivilegeError:
                return True
            return False

        await eventually(revoked, what="the stray grant to be revoked")
    finally:
        await conn_b.close()
    conn_a = await asyncpg.connect(dsn_a)
    try:
        assert await conn_a.fetchval(f'SELECT count(*) FROM neuroedge."{table}"') == 2
    finally:
        await conn_a.close()


def b_role(tenant: str) -> str:
    return '"ne_tenant_' + tenant.replace("-", "_") + '"'


async def test_changing_hnsw_and_payload_indexes_rebuilds_in_place_and_keeps_the_data(
    kubeconfig: Path, tenants: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    a, _ = tenants
    apply_index(kubeconfig, a, "tuned", payloadIndexes=[{"field": "lang", "type": "keyword"}])
    wait_index_ready(kubeconfig, a, "tuned")
    table = pgvector.storage_name(a, "tuned")
    await insert_as_tenant(
        secret_values(kubeconfig, a)["DATABASE_URL"], a, table, {"x": "[1,2,3]", "y": "[3,2,1]"}
    )
    before = await admin_db.fetch(f'SELECT id, embedding::text FROM neuroedge."{table}" ORDER BY id')
    apply_index(
        kubeconfig,
        a,
        "tuned",
        hnsw={"m": 24, "efConstruct": 64},
        payloadIndexes=[{"field": "meta.title", "type": "text"}],
    )

    async def rebuilt() -> bool:
        indexes = await hnsw_indexes(admin_db, table)
        return [sorted(r["reloptions"]) for r in indexes] == [["ef_construction=64", "m=24"]]

    await eventually(rebuilt, what="the HNSW index rebuilt with m=24")
    after = await admin_db.fetch(f'SELECT id, embedding::text FROM neuroedge."{table}" ORDER BY id')
    assert after == before

    async def payload_swapped() -> bool:
        defs = [
            r["indexdef"]
            for r in await admin_db.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", table)
        ]
        return any("to_tsvector" in d for d in defs) and not any("'{lang}'" in d for d in defs)

    await eventually(payload_swapped, what="the payload indexes swapped")
    await eventually(
        lambda: index_status(kubeconfig, a, "tuned").get("pointCount") == 2, what="point count 2"
    )
    assert ready(kubeconfig, a, "tuned")["status"] == "True"


def test_api_server_refuses_dimension_and_distance_changes(
    kubeconfig: Path, tenants: tuple[str, str]
) -> None:
    a, _ = tenants
    apply_index(kubeconfig, a, "fixed")
    for change, message in (
        ({"dimension": 4}, "dimension is immutable; create a new VectorIndex and re-ingest instead"),
        ({"distance": "Euclid"}, "distance is immutable; create a new VectorIndex and re-ingest instead"),
    ):
        with pytest.raises(procs.StackError) as refused:
            kubectl(
                kubeconfig,
                "patch",
                "vectorindex",
                "fixed",
                "-n",
                a,
                "--type=merge",
                "-p",
                json.dumps({"spec": change}),
            )
        assert message in str(refused.value)
    assert get(kubeconfig, "vectorindex", "fixed", "-n", a)["spec"]["dimension"] == 3


async def test_table_dropped_by_hand_is_recreated_with_a_warning(
    kubeconfig: Path, tenants: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    a, _ = tenants
    apply_index(kubeconfig, a, "fragile")
    wait_index_ready(kubeconfig, a, "fragile")
    table = pgvector.storage_name(a, "fragile")
    await admin_db.execute(f'DROP TABLE neuroedge."{table}"')

    async def back() -> bool:
        return bool(await admin_db.fetchval("SELECT to_regclass($1) IS NOT NULL", f'neuroedge."{table}"'))

    await eventually(back, what="the table recreated")

    def warned() -> bool:
        events = get(kubeconfig, "events", "-n", a, "--field-selector", "involvedObject.name=fragile")[
            "items"
        ]
        return any(e["type"] == "Warning" and e["reason"] == "StorageRecreated" for e in events)

    await eventually(warned, what="a StorageRecreated warning event")
    assert ready(kubeconfig, a, "fragile")["status"] == "True"


async def test_namespace_without_tenant_reports_no_tenant_then_recovers(
    kubeconfig: Path, operator: operator_process.OperatorProcess
) -> None:
    tenant = f"vc-{uuid.uuid4().hex[:6]}"
    namespace = f"{tenant}-loose"
    kubectl(kubeconfig, "create", "namespace", namespace)
    apply_index(kubeconfig, namespace, "early")
    await eventually(
        lambda: ready(kubeconfig, namespace, "early").get("reason") == "NoTenant", what="NoTenant"
    )
    assert "has no neuroedge.io/tenant label" in ready(kubeconfig, namespace, "early")["message"]
    # Labelled for a tenant that does not list the namespace: still refused.
    labels = (f"neuroedge.io/tenant={tenant}", "app.kubernetes.io/managed-by=neuroedge-operator")
    kubectl(kubeconfig, "label", "namespace", namespace, *labels)
    await eventually(
        lambda: "does not exist" in ready(kubeconfig, namespace, "early").get("message", ""),
        what="the missing tenant named",
    )
    apply_tenant(kubeconfig, tenant, {"namespaces": [namespace]})  # adopts the namespace labelled as its
    wait_ready(kubeconfig, tenant)
    wait_index_ready(kubeconfig, namespace, "early")


async def test_spec_diverging_from_a_retained_table_is_degraded_and_the_data_kept(
    kubeconfig: Path, tenants: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    a, _ = tenants
    table = pgvector.storage_name(a, "legacy")
    for statement in pgvector.create_table_sql(table, 5, "Cosine"):
        await admin_db.execute(statement)
    await admin_db.execute(
        f"INSERT INTO neuroedge.\"{table}\" (tenant_id, id, embedding) VALUES ($1, 'old', '[1,2,3,4,5]')", a
    )
    apply_index(kubeconfig, a, "legacy")  # dimension 3
    await eventually(
        lambda: ready(kubeconfig, a, "legacy").get("reason") == "SpecDiverged", what="SpecDiverged"
    )
    conds = {c["type"]: c for c in index_status(kubeconfig, a, "legacy")["conditions"]}
    assert conds["Degraded"]["status"] == "True"
    assert "dimension is 3 in the spec but 5 in" in conds["Degraded"]["message"]
    assert await admin_db.fetchval(f'SELECT count(*) FROM neuroedge."{table}"') == 1


async def test_deletion_honours_the_reclaim_policy(
    kubeconfig: Path, tenants: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    a, _ = tenants
    dsn = secret_values(kubeconfig, a)["DATABASE_URL"]
    for name, policy in (("keep", "Retain"), ("drop", "Delete")):
        apply_index(kubeconfig, a, name, reclaimPolicy=policy)
        wait_index_ready(kubeconfig, a, name)
        await insert_as_tenant(dsn, a, pgvector.storage_name(a, name), {"p": "[1,1,1]"})
        kubectl(kubeconfig, "delete", "vectorindex", name, "-n", a, "--timeout=60s")
        assert not exists(kubeconfig, "vectorindex", name, "-n", a)
        registered = await admin_db.fetchval(
            "SELECT count(*) FROM neuroedge.vector_indexes WHERE tenant_id = $1 AND name = $2", a, name
        )
        assert registered == 0
    assert await admin_db.fetchval(
        "SELECT to_regclass($1) IS NULL", f'neuroedge."{pgvector.storage_name(a, "drop")}"'
    )
    kept = f'neuroedge."{pgvector.storage_name(a, "keep")}"'
    assert await admin_db.fetchval(f"SELECT count(*) FROM {kept}") == 1
    # The same index created again finds the retained vectors.
    apply_index(kubeconfig, a, "keep")
    wait_index_ready(kubeconfig, a, "keep")
    await eventually(
        lambda: index_status(kubeconfig, a, "keep").get("pointCount") == 1, what="retained point"
    )


async def test_embedding_model_is_checked_and_registered(
    kubeconfig: Path, tenants: tuple[str, str], admin_db: asyncpg.Connection
) -> None:
    a, _ = tenants
    apply_index(kubeconfig, a, "wide", dimension=1536, embedding={"model": "wordllama-256"})
    mismatch = await eventually(
        lambda: (
            ready(kubeconfig, a, "wide").get("reason") == "EmbeddingDimensionMismatch"
            and ready(kubeconfig, a, "wide")
        ),
        what="EmbeddingDimensionMismatch",
    )
    assert mismatch["status"] == "False"
    assert "wordllama-256 makes 256-dimensional vectors but spec.dimension is 1536" in mismatch["message"]
    table = f'neuroedge."{pgvector.storage_name(a, "wide")}"'
    assert await admin_db.fetchval("SELECT to_regclass($1)", table) is None  # nothing was created

    apply_index(kubeconfig, a, "kb", dimension=256, embedding={"model": "wordllama-256"})
    wait_index_ready(kubeconfig, a, "kb")
    row = await admin_db.fetchrow(
        "SELECT embedding_model, embedding_provider, embedding_base_url, embedding_api_key "
        "FROM neuroedge.vector_indexes WHERE tenant_id = $1 AND name = 'kb'",
        a,
    )
    assert dict(row) == {
        "embedding_model": "wordllama-256",
        "embedding_provider": "builtin",
        "embedding_base_url": None,
        "embedding_api_key": None,
    }

    external = {
        "model": "text-embedding-3-small",
        "provider": "openai",
        "baseURL": "http://127.0.0.1:9/v1",
        "apiKeySecretRef": {"name": "embedding-key", "key": "token"},
    }
    apply_index(kubeconfig, a, "ext", dimension=1536, embedding=external)
    missing = await eventually(
        lambda: (
            ready(kubeconfig, a, "ext").get("reason") == "EmbeddingSecretMissing"
            and ready(kubeconfig, a, "ext")
        ),
        what="EmbeddingSecretMissing",
    )
    assert "Secret embedding-key does not exist" in missing["message"]
    kubectl(
        kubeconfig, "create", "secret", "generic", "embedding-key", "-n", a, "--from-literal=token=sk-test-1"
    )
    wait_index_ready(kubeconfig, a, "ext")
    key = await admin_db.fetchval(
        "SELECT embedding_api_key FROM neuroedge.vector_indexes WHERE tenant_id = $1 AND name = 'ext'", a
    )
    assert key == "sk-test-1"
