"""Row-level isolation between tenants, tried as an attacker holding tenant A's database credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from neuroedge_operator.builders import sql
from neuroedge_operator.clients import postgres
from neuroedge_operator.plan import database

REGISTRY = {
    "suspended": False,
    "access_token_ttl_seconds": 900,
    "refresh_token_ttl_seconds": 86400,
    "rate_limit_rps": 10.0,
    "rate_limit_burst": 20,
    "llm_tokens_per_minute": None,
    "llm_tokens_per_day": None,
}


def tenant_dsn(admin_dsn: str, tenant: str, password: str) -> str:
    parts = urlsplit(admin_dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{sql.role_name(tenant)}:{password}@{host}"))


async def provision(db: postgres.Database, tenant: str, password: str, login: bool = True) -> None:
    desired = database.Desired(tenant=tenant, password=password, login=login, registry=REGISTRY)
    await db.execute(database.plan(desired, await db.observe(tenant)))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[postgres.Database]:
    handle = postgres.Database(database_url)
    yield handle
    await handle.close()


@pytest.fixture
async def two_tenants(db: postgres.Database, database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Tenants iso-a and iso-b, each with a user row; yields a connection logged in as iso-a."""
    await provision(db, "iso-a", "pw-a")
    await provision(db, "iso-b", "pw-b")
    admin = await asyncpg.connect(database_url)
    for t in ("iso-a", "iso-b"):
        await admin.execute(
            "INSERT INTO neuroedge.users (tenant_id, email, password_hash, role) "
            "VALUES ($1, $2, 'x', 'admin') "
            "ON CONFLICT DO NOTHING",
            t,
            f"admin@{t}.test",
        )
    await admin.close()
    conn = await asyncpg.connect(tenant_dsn(database_url, "iso-a", "pw-a"))
    yield conn
    await conn.close()


async def test_provisioning_twice_plans_nothing_the_second_time(db: postgres.Database) -> None:
    await provision(db, "iso-idem", "pw")
    desired = database.Desired(tenant="iso-idem", password="pw", login=True, registry=REGISTRY)
    assert database.plan(desired, await db.observe("iso-idem")) == []


async def test_tenant_sees_only_its_own_rows_even_when_asking_for_another(
    two_tenants: asyncpg.Connection,
) -> None:
    conn = two_tenants
    assert {r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM neuroedge.users")} == {"iso-a"}
    assert await conn.fetch("SELECT * FROM neuroedge.users WHERE tenant_id = 'iso-b'") == []
    assert await conn.fetch("SELECT * FROM neuroedge.tenants WHERE tenant_id = 'iso-b'") == []
    assert (
        await conn.execute("UPDATE neuroedge.users SET disabled = true WHERE tenant_id = 'iso-b'")
        == "UPDATE 0"
    )
    assert await conn.execute("DELETE FROM neuroedge.users WHERE tenant_id = 'iso-b'") == "DELETE 0"


async def test_tenant_cannot_write_rows_of_another_tenant(two_tenants: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await two_tenants.execute(
            "INSERT INTO neuroedge.users (tenant_id, email, password_hash, role) "
            "VALUES ('iso-b', 'evil@x.test', 'x', 'admin')"
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        await two_tenants.execute("UPDATE neuroedge.users SET tenant_id = 'iso-b'")


async def test_tenant_cannot_escape_through_roles_settings_or_registry(
    two_tenants: asyncpg.Connection,
) -> None:
    conn = two_tenants
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("SET ROLE neuroedge_runtime")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("SET ROLE neuroedge_owner")
    await conn.execute("SELECT set_config('app.current_tenant', 'iso-b', false)")
    assert await conn.fetch("SELECT * FROM neuroedge.users WHERE tenant_id = 'iso-b'") == []
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("UPDATE neuroedge.tenants SET suspended = false")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("ALTER TABLE neuroedge.users DISABLE ROW LEVEL SECURITY")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("CREATE TABLE neuroedge.evil (x int)")


async def test_table_owner_cannot_bypass_row_level_security(
    two_tenants: asyncpg.Connection, database_url: str
) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        async with admin.transaction():
            await admin.execute("SET LOCAL ROLE neuroedge_owner")
            assert await admin.fetchval("SELECT count(*) FROM neuroedge.users") == 0
            await admin.execute("SELECT set_config('app.current_tenant', 'iso-b', true)")
            assert await admin.fetchval("SELECT count(*) FROM neuroedge.users WHERE tenant_id = 'iso-b'") == 0
    finally:
        await admin.close()


async def test_suspended_tenant_cannot_log_in_and_unsuspend_restores(
    db: postgres.Database, database_url: str
) -> None:
    await provision(db, "iso-susp", "pw-s")
    await provision(db, "iso-susp", "pw-s", login=False)
    with pytest.raises(asyncpg.InvalidAuthorizationSpecificationError, match="not permitted to log in"):
        await asyncpg.connect(tenant_dsn(database_url, "iso-susp", "pw-s"))
    await provision(db, "iso-susp", "pw-s", login=True)
    conn = await asyncpg.connect(tenant_dsn(database_url, "iso-susp", "pw-s"))
    await conn.close()


async def test_removal_with_delete_leaves_no_role_policy_or_row(
    db: postgres.Database, database_url: str
) -> None:
    await provision(db, "iso-gone", "pw-g")
    await db.execute(database.plan_removal("iso-gone", await db.observe("iso-gone"), "Delete"))
    observed = await db.observe("iso-gone")
    assert observed.role is None and not observed.policies and observed.registry is None


async def test_stray_and_missing_table_privileges_are_seen_and_planned_back(
    db: postgres.Database, database_url: str
) -> None:
    """What the observer reads (per privilege, not by exploding ACLs) is exactly what is granted: a stray
    grant and a revoked one are both seen, and one pass puts the tables back as the planner wants them."""
    await provision(db, "iso-drift", "pw")
    role = sql.role_name("iso-drift")
    read_only = next(t for t, p in sorted(sql.TABLE_PRIVILEGES.items()) if p == frozenset({"SELECT"}))
    writable = next(t for t, p in sorted(sql.TABLE_PRIVILEGES.items()) if "DELETE" in p)
    assert (await db.observe("iso-drift")).privileges == sql.TABLE_PRIVILEGES
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'GRANT INSERT, TRUNCATE ON neuroedge."{read_only}" TO "{role}"')
        await admin.execute(f'REVOKE DELETE ON neuroedge."{writable}" FROM "{role}"')
    finally:
        await admin.close()
    drifted = await db.observe("iso-drift")
    assert drifted.privileges[read_only] == {"SELECT", "INSERT", "TRUNCATE"}
    assert drifted.privileges[writable] == sql.TABLE_PRIVILEGES[writable] - {"DELETE"}
    await provision(db, "iso-drift", "pw")
    assert (await db.observe("iso-drift")).privileges == sql.TABLE_PRIVILEGES
