"""The Tenant reconciler end to end: a real operator process against the real control plane, PostgreSQL
and Redis. PostgreSQL is reached through a switchable proxy so that one test can take it "down"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import operator_helpers
import pytest
import redis.asyncio as aioredis
import redis.exceptions
import tenant_operator_process as operator_process
from operator_helpers import (
    apply_tenant,
    condition,
    eventually,
    exists,
    get,
    kubectl,
    secret_values,
    wait_ready,
)
from tcp_proxy import TcpProxy

from neuroedge_operator.db import migrations

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def db_proxy(database_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def operator(
    kubeconfig: Path,
    database_url: str,
    redis_url: str,
    db_proxy: TcpProxy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[operator_process.OperatorProcess]:
    parts = urlsplit(database_url)
    proxied = urlunsplit(parts._replace(netloc=f"{parts.netloc.rsplit('@', 1)[0]}@127.0.0.1:{db_proxy.port}"))
    env = operator_helpers.operator_env(
        kubeconfig,
        proxied,
        redis_url,
        NEUROEDGE_TENANT_DATABASE_HOST=f"{parts.hostname}:{parts.port}",
        NEUROEDGE_RESYNC_INTERVAL="2",
        NEUROEDGE_LOG_LEVEL="INFO",
    )
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with operator_helpers.running_operator(env, log) as proc:
        yield proc


async def test_tenant_becomes_ready_with_labelled_owned_children(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    apply_tenant(
        kubeconfig,
        "op-ready",
        {
            "namespaces": ["op-ready-a", "op-ready-b"],
            "quota": {"cpu": "4", "memory": "8Gi", "pods": 20},
            "limitRange": {
                "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                "default": {"cpu": "500m", "memory": "512Mi"},
            },
        },
    )
    wait_ready(kubeconfig, "op-ready")
    tenant = get(kubeconfig, "tenant", "op-ready")
    assert tenant["status"]["observedGeneration"] == tenant["metadata"]["generation"]
    kinds = {c["type"]: c["status"] for c in tenant["status"]["conditions"]}
    assert kinds == {
        k: "True" for k in ("Ready", "NamespacesReady", "DatabaseReady", "CacheReady", "CredentialsReady")
    }
    uid = tenant["metadata"]["uid"]
    for ns in ("op-ready-a", "op-ready-b"):
        namespace = get(kubeconfig, "namespace", ns)
        assert namespace["metadata"]["labels"]["neuroedge.io/tenant"] == "op-ready"
        assert namespace["metadata"]["ownerReferences"][0]["uid"] == uid
        for kind, name in (
            ("resourcequota", "neuroedge-quota"),
            ("limitrange", "neuroedge-limits"),
            ("networkpolicy", "neuroedge-tenant-isolation"),
            ("serviceaccount", "neuroedge-runtime"),
            ("role", "neuroedge-runtime"),
            ("rolebinding", "neuroedge-runtime"),
            ("secret", "neuroedge-tenant-credentials"),
        ):
            obj = get(kubeconfig, kind, name, "-n", ns)
            assert obj["metadata"]["labels"]["neuroedge.io/tenant"] == "op-ready", (kind, ns)
            assert obj["metadata"]["ownerReferences"][0]["uid"] == uid, (kind, ns)
        assert get(kubeconfig, "resourcequota", "neuroedge-quota", "-n", ns)["spec"]["hard"]["pods"] == "20"
    values = secret_values(kubeconfig, "op-ready-a")
    assert set(values) == {
        "TENANT",
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SIGNING_KEYS",
        "ADMIN_EMAIL",
        "ADMIN_PASSWORD",
    }
    assert values == secret_values(kubeconfig, "op-ready-b")
    keyset = json.loads(values["JWT_SIGNING_KEYS"])
    assert (
        keyset["active"] == keyset["keys"][0]["kid"] and keyset["keys"][0]["public_jwk"]["crv"] == "Ed25519"
    )
    conn = await asyncpg.connect(values["DATABASE_URL"])
    try:
        assert await conn.fetchval("SELECT tenant_id FROM neuroedge.tenants") == "op-ready"
    finally:
        await conn.close()
    cache = aioredis.Redis.from_url(values["REDIS_URL"])
    try:
        await cache.set("ne:op-ready:k", "v")
        with pytest.raises(redis.exceptions.NoPermissionError):
            await cache.get("ne:op-other:k")
    finally:
        await cache.aclose()
    assert operator.metric("neuroedge_operator_objects", kind="Tenant", condition="Ready", status="True") >= 1


async def test_tenant_credentials_cannot_reach_another_tenants_rows(
    operator: operator_process.OperatorProcess, kubeconfig: Path, admin_db: asyncpg.Connection
) -> None:
    for name in ("op-iso-a", "op-iso-b"):
        apply_tenant(kubeconfig, name, {})
    for name in ("op-iso-a", "op-iso-b"):
        wait_ready(kubeconfig, name)
    await admin_db.execute(
        "INSERT INTO neuroedge.users (tenant_id, email, password_hash, role) "
        "VALUES ('op-iso-b', 'b@x.test', 'x', 'admin')"
    )
    conn = await asyncpg.connect(secret_values(kubeconfig, "op-iso-a")["DATABASE_URL"])
    try:
        assert await conn.fetch("SELECT * FROM neuroedge.users WHERE tenant_id = 'op-iso-b'") == []
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO neuroedge.users (tenant_id, email, password_hash, role) "
                "VALUES ('op-iso-b', 'e@x.test', 'x', 'admin')"
            )
    finally:
        await conn.close()


async def test_deleted_children_come_back(
    operator: operator_process.OperatorProcess, kubeconfig: Path, admin_db: asyncpg.Connection, redis_url: str
) -> None:
    apply_tenant(kubeconfig, "op-drift", {})
    wait_ready(kubeconfig, "op-drift")
    kubectl(kubeconfig, "delete", "networkpolicy", "neuroedge-tenant-isolation", "-n", "op-drift")
    kubectl(kubeconfig, "label", "namespace", "op-drift", "neuroedge.io/tenant-")
    await admin_db.execute('DROP OWNED BY "ne_tenant_op_drift"; DROP ROLE "ne_tenant_op_drift"')
    admin = aioredis.Redis.from_url(redis_url)
    await admin.execute_command("ACL", "DELUSER", "ne-tenant-op-drift")
    await eventually(
        lambda: exists(kubeconfig, "networkpolicy", "neuroedge-tenant-isolation", "-n", "op-drift"),
        what="netpol",
    )

    async def role_back() -> bool:
        return bool(
            await admin_db.fetchval(
                "SELECT count(*) = $1 FROM pg_policies WHERE policyname = 'tenant_op-drift'",
                len(migrations.TENANT_TABLES),
            )
        )

    await eventually(role_back, what="role and policies")

    def labelled() -> bool:
        labels = get(kubeconfig, "namespace", "op-drift")["metadata"].get("labels", {})
        return labels.get("neuroedge.io/tenant") == "op-drift"

    await eventually(labelled, what="namespace label")
    assert condition(kubeconfig, "op-drift", "Ready")["status"] == "True"
    await eventually(lambda: admin.execute_command("ACL", "GETUSER", "ne-tenant-op-drift"), what="redis user")
    await admin.aclose()
    conn = await asyncpg.connect(secret_values(kubeconfig, "op-drift")["DATABASE_URL"])
    await conn.close()


async def test_invalid_spec_reports_a_clear_condition_and_writes_nothing(
    operator: operator_process.OperatorProcess, kubeconfig: Path, admin_db: asyncpg.Connection
) -> None:
    apply_tenant(kubeconfig, "op-bad", {"quota": {"cpu": "1"}, "limitRange": {"default": {"cpu": "2"}}})

    def invalid() -> bool:
        return condition(kubeconfig, "op-bad", "Ready").get("reason") == "InvalidSpec"

    await eventually(invalid, what="InvalidSpec")
    message = condition(kubeconfig, "op-bad", "Ready")["message"]
    assert "spec.limitRange.default.cpu (2) exceeds spec.quota.cpu (1)" in message
    assert not exists(kubeconfig, "namespace", "op-bad")
    assert await admin_db.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = 'ne_tenant_op_bad'") == 0
    apply_tenant(kubeconfig, "op-bad", {"quota": {"cpu": "2"}, "limitRange": {"default": {"cpu": "2"}}})
    wait_ready(kubeconfig, "op-bad")


async def test_existing_foreign_namespace_is_never_adopted(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    kubectl(kubeconfig, "create", "namespace", "op-taken")
    apply_tenant(kubeconfig, "op-thief", {"namespaces": ["op-taken"]})

    def conflict() -> bool:
        return condition(kubeconfig, "op-thief", "NamespacesReady").get("reason") == "NamespaceConflict"

    await eventually(conflict, what="NamespaceConflict")
    assert "op-taken" in condition(kubeconfig, "op-thief", "Ready")["message"]
    labels = get(kubeconfig, "namespace", "op-taken")["metadata"].get("labels", {})
    assert "neuroedge.io/tenant" not in labels
    assert not exists(kubeconfig, "secret", "neuroedge-tenant-credentials", "-n", "op-taken")


async def test_suspend_disables_logins_and_unsuspend_restores(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    apply_tenant(kubeconfig, "op-susp", {})
    wait_ready(kubeconfig, "op-susp")
    values = secret_values(kubeconfig, "op-susp")
    apply_tenant(kubeconfig, "op-susp", {"suspend": True})
    await eventually(
        lambda: condition(kubeconfig, "op-susp", "Ready").get("reason") == "Suspended", what="Suspended"
    )
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError):
        await asyncpg.connect(values["DATABASE_URL"])
    cache = aioredis.Redis.from_url(values["REDIS_URL"])
    with pytest.raises(redis.exceptions.AuthenticationError):
        await cache.ping()
    await cache.aclose()
    apply_tenant(kubeconfig, "op-susp", {"suspend": False})
    wait_ready(kubeconfig, "op-susp")
    conn = await asyncpg.connect(values["DATABASE_URL"])
    await conn.close()
    cache = aioredis.Redis.from_url(values["REDIS_URL"])
    assert await cache.ping()
    await cache.aclose()


async def test_key_rotation_on_demand_keeps_the_previous_key(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    apply_tenant(kubeconfig, "op-rot", {"auth": {"accessTokenTTL": "10m"}})
    wait_ready(kubeconfig, "op-rot")
    before = json.loads(secret_values(kubeconfig, "op-rot")["JWT_SIGNING_KEYS"])
    kubectl(kubeconfig, "annotate", "tenant", "op-rot", "neuroedge.io/rotate-keys=now-1")

    def rotated() -> dict[str, Any] | None:
        keyset = json.loads(secret_values(kubeconfig, "op-rot")["JWT_SIGNING_KEYS"])
        return keyset if keyset["active"] != before["active"] else None

    after = await eventually(rotated, what="rotation")
    old = next(k for k in after["keys"] if k["kid"] == before["active"])
    assert old["verify_until"] and len(after["keys"]) == 2


@pytest.mark.parametrize("reclaim", ["Retain", "Delete"])
async def test_deletion_follows_the_reclaim_policy(
    operator: operator_process.OperatorProcess,
    kubeconfig: Path,
    admin_db: asyncpg.Connection,
    redis_url: str,
    reclaim: str,
) -> None:
    name = f"op-del-{reclaim.lower()}"
    apply_tenant(kubeconfig, name, {"database": {"reclaimPolicy": reclaim}})
    wait_ready(kubeconfig, name)
    kubectl(kubeconfig, "delete", "tenant", name, "--timeout=60s")
    role = await admin_db.fetchrow(
        "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", f"ne_tenant_op_del_{reclaim.lower()}"
    )
    row = await admin_db.fetchval("SELECT count(*) FROM neuroedge.tenants WHERE tenant_id = $1", name)
    if reclaim == "Retain":
        assert role is not None and role["rolcanlogin"] is False and row == 1
    else:
        assert role is None and row == 0
        assert (
            await admin_db.fetchval(
                "SELECT count(*) FROM pg_policies WHERE policyname = $1", f"tenant_{name}"
            )
            == 0
        )
    admin = aioredis.Redis.from_url(redis_url)
    assert await admin.execute_command("ACL", "GETUSER", f"ne-tenant-{name}") is None
    await admin.aclose()

    def namespace_going() -> bool:
        ns = json.loads(
            kubectl(kubeconfig, "get", "namespace", name, "--ignore-not-found", "-o", "json") or "{}"
        )
        return not ns or bool(ns["metadata"].get("deletionTimestamp"))

    await eventually(namespace_going, what="namespace garbage collection")


async def test_deletion_waits_while_postgres_is_down(
    operator: operator_process.OperatorProcess,
    kubeconfig: Path,
    admin_db: asyncpg.Connection,
    db_proxy: TcpProxy,
) -> None:
    apply_tenant(kubeconfig, "op-del-down", {"database": {"reclaimPolicy": "Delete"}})
    wait_ready(kubeconfig, "op-del-down")
    db_proxy.down()
    try:
        kubectl(kubeconfig, "delete", "tenant", "op-del-down", "--wait=false")

        def blocked() -> bool:
            """Ready says deletion waits, and so does the part it waits on (the Warning Event's condition),
            in one read of the status."""
            conds = get(kubeconfig, "tenant", "op-del-down").get("status", {}).get("conditions", [])
            reasons = {c["type"]: c.get("reason") for c in conds}
            return reasons.get("Ready") == reasons.get("DatabaseReady") == "DeletionBlocked"

        await eventually(blocked, timeout=40, what="DeletionBlocked")
        assert exists(kubeconfig, "tenant", "op-del-down")
        assert (
            await admin_db.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = 'ne_tenant_op_del_down'")
            == 1
        )
    finally:
        db_proxy.up()
    await eventually(lambda: not exists(kubeconfig, "tenant", "op-del-down"), timeout=60, what="tenant gone")
    assert (
        await admin_db.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = 'ne_tenant_op_del_down'") == 0
    )


async def test_database_down_is_reported_then_recovers(
    operator: operator_process.OperatorProcess, kubeconfig: Path, db_proxy: TcpProxy
) -> None:
    db_proxy.down()
    try:
        apply_tenant(kubeconfig, "op-dbdown", {})

        def unreachable() -> bool:
            return condition(kubeconfig, "op-dbdown", "DatabaseReady").get("reason") == "DatabaseUnreachable"

        await eventually(unreachable, timeout=40, what="DatabaseUnreachable")
        assert condition(kubeconfig, "op-dbdown", "Ready")["status"] == "False"
    finally:
        db_proxy.up()
    wait_ready(kubeconfig, "op-dbdown")


async def test_restarted_operator_writes_nothing_when_nothing_changed(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    apply_tenant(kubeconfig, "op-idle", {"quota": {"cpu": "1000m", "memory": "1Gi", "pods": 5}})
    wait_ready(kubeconfig, "op-idle")
    await asyncio.sleep(3)  # let in-flight reconciles of earlier tests settle
    operator.stop()
    before = operator_process.apiserver_writes(kubectl(kubeconfig, "get", "--raw", "/metrics"))
    assert before > 0  # the counter is read correctly: the tests above made many writes
    operator.start()
    await asyncio.sleep(8)  # resume of every tenant plus several 2-second drift-repair cycles
    after = operator_process.apiserver_writes(kubectl(kubeconfig, "get", "--raw", "/metrics"))
    assert operator.metric("neuroedge_operator_reconcile_total", kind="Tenant") > 0
    assert operator.metric("neuroedge_operator_api_writes_total") == 0, operator.log_tail()
    assert operator.metric("neuroedge_operator_sql_statements_total") == 0
    assert operator.metric("neuroedge_operator_redis_acl_writes_total") == 0
    assert after - before == 0
