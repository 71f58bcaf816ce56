"""Schema migrations against the real PostgreSQL: applied once, concurrently safe, RLS forced."""

from __future__ import annotations

import asyncio

import asyncpg

from neuroedge_operator.db import migrate, migrations


async def test_concurrent_migrations_apply_each_version_exactly_once(database_url: str) -> None:
    conns = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate.migrate(c) for c in conns))
        applied = sorted(v for r in results for v in r)
        # Either this session applied them (once, by one connection) or an earlier test already had.
        assert applied in ([], [m.version for m in migrations.MIGRATIONS])
        assert await migrate.migrate(conns[0]) == []
        rows = await conns[0].fetch("SELECT version FROM neuroedge.schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in migrations.MIGRATIONS]
    finally:
        for c in conns:
            await c.close()


async def test_every_tenant_table_has_forced_row_level_security(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate.migrate(conn)
        rows = await conn.fetch(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'neuroedge' AND c.relname = ANY($1::text[])",
            list(migrations.TENANT_TABLES),
        )
        assert {r["relname"] for r in rows} == set(migrations.TENANT_TABLES)
        for row in rows:
            assert row["relrowsecurity"] and row["relforcerowsecurity"], row["relname"]
            assert row["owner"] == migrations.OWNER_ROLE
    finally:
        await conn.close()


async def test_runtime_role_sees_only_the_transaction_tenant(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate.migrate(conn)
        await conn.execute(
            "INSERT INTO neuroedge.tenants (tenant_id) VALUES ('mig-a'), ('mig-b') ON CONFLICT DO NOTHING"
        )
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE neuroedge_runtime")
            assert await conn.fetchval("SELECT count(*) FROM neuroedge.tenants") == 0
            await conn.execute("SELECT set_config('app.current_tenant', 'mig-a', true)")
            seen = await conn.fetch(
                "SELECT tenant_id FROM neuroedge.tenants WHERE tenant_id IN ('mig-a','mig-b')"
            )
            assert [r["tenant_id"] for r in seen] == ["mig-a"]
        # The setting was transaction-local: outside the transaction nothing of it remains.
        assert await conn.fetchval("SELECT current_setting('app.current_tenant', true)") in (None, "")
    finally:
        await conn.close()
