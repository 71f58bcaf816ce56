"""The pgvector DDL builder's statements applied to the real PostgreSQL: idempotent, secured, indexed."""

from __future__ import annotations

import asyncpg

from neuroedge_operator.builders import pgvector
from neuroedge_operator.db import migrate


async def test_vector_index_table_is_created_idempotently_and_secured(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate.migrate(conn)
        name = pgvector.storage_name("ddl-test", "docs")
        for _ in range(2):
            for statement in pgvector.create_table_sql(name, 8, "Dot"):
                await conn.execute(statement)
        row = await conn.fetchrow(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'neuroedge' AND c.relname = $1",
            name,
        )
        assert row["relrowsecurity"] and row["relforcerowsecurity"] and row["owner"] == "neuroedge_owner"
        indexes = await conn.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", name)
        definitions = " ".join(r["indexdef"] for r in indexes)
        assert (
            "hnsw (embedding vector_ip_ops)" in definitions and "gin (payload jsonb_path_ops)" in definitions
        )
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE neuroedge_runtime")
            await conn.execute("SELECT set_config('app.current_tenant', 'ddl-test', true)")
            await conn.execute(
                f'INSERT INTO neuroedge."{name}" (tenant_id, id, embedding) VALUES '
                "('ddl-test', 'a', '[1,2,3,4,5,6,7,8]') ON CONFLICT DO NOTHING"
            )
            try:
                await conn.execute(
                    f'INSERT INTO neuroedge."{name}" (tenant_id, id, embedding) VALUES '
                    "('someone-else', 'b', '[1,2,3,4,5,6,7,8]')"
                )
                raise AssertionError("RLS let the runtime write another tenant's row")
            except asyncpg.InsufficientPrivilegeError:
                pass
    finally:
        await conn.close()
