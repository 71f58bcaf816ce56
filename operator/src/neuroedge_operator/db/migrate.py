"""Apply the schema migrations: once, in order, under a transaction-scoped advisory lock.

Several operator replicas (or an operator and a test) may start at once; the advisory lock serialises them
and the `schema_migrations` table makes every migration run exactly once.
"""

from __future__ import annotations

import asyncpg

from neuroedge_operator.db import migrations


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Bring the schema up to date; returns the versions this call applied (empty when nothing to do)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", migrations.MIGRATION_LOCK_KEY)
        for statement in migrations.bootstrap_sql():
            await conn.execute(statement)
        rows = await conn.fetch(f"SELECT version FROM {migrations.SCHEMA}.schema_migrations")  # noqa: S608
        todo = migrations.pending({int(row["version"]) for row in rows})
        for migration in todo:
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {migrations.SCHEMA}.schema_migrations (version, name) VALUES ($1, $2)",  # noqa: S608
                migration.version,
                migration.name,
            )
    return [m.version for m in todo]
