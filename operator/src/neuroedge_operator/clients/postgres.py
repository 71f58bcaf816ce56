"""PostgreSQL: read a tenant's catalog state, run a plan, keep the schema migrated.

The pool opens no connection up front (`min_size=0`), so the operator starts and reports a clear
condition while the database is down instead of crash-looping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg

from neuroedge_operator import metrics
from neuroedge_operator.builders import sql
from neuroedge_operator.clients import fence
from neuroedge_operator.db import migrate, migrations
from neuroedge_operator.plan import database
from neuroedge_queue import retry

UNREACHABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
)

# Waiting for a pooled connection is not a sign of an unreachable database (100 tenants at once queue up
# here); connecting is, and has its own, shorter timeout.
ACQUIRE_TIMEOUT = 120.0
# A transaction that lost a deadlock or serialization conflict was rolled back whole: safe to run again.
CONFLICTS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
CONFLICT_RETRY = retry.RetryPolicy(base=0.05, cap=1.0, max_attempts=5)


class Database:
    """A lazily connecting pool plus the one-time migration at first use."""

    def __init__(self, dsn: str, connect_timeout: float = 5.0) -> None:
        self._dsn = dsn
        self._timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        self._migrated = False
        self._lock = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        """The pool, created once; migrations are applied the first time the database answers."""
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn, min_size=0, max_size=4, timeout=self._timeout, command_timeout=30
                )
            if not self._migrated:
                async with self._pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
                    await migrate.migrate(conn)
                self._migrated = True
            return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

    async def observe(self, tenant: str) -> database.Observed:
        """The catalog state of `tenant`'s role, grants, policies and registry row."""
        pool = await self.pool()
        async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
            return await observe(conn, tenant)

    async def fetchrow(self, statement: str, *args: object) -> asyncpg.Record | None:
        """One row of a read-only query (or None)."""
        pool = await self.pool()
        async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
            return await conn.fetchrow(statement, *args)

    async def fetch(self, statement: str, *args: object) -> list[asyncpg.Record]:
        """The rows of a read-only query."""
        pool = await self.pool()
        async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn:
            return list(await conn.fetch(statement, *args))

    async def execute(self, actions: Sequence[database.Action]) -> None:
        """Run `actions` in one transaction under the operator's DDL lock.

        DDL (policies, grants) takes strong table locks while tenants' applications write rows, so the
        transaction can lose a deadlock or a serialization conflict; PostgreSQL then rolls it back whole, and
        it is retried with the shared backoff policy."""
        if not actions:
            return
        await retry.call(lambda: self._execute_once(actions), CONFLICT_RETRY, retry_on=CONFLICTS)

    async def _execute_once(self, actions: Sequence[database.Action]) -> None:
        pool = await self.pool()
        async with pool.acquire(timeout=ACQUIRE_TIMEOUT) as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", sql.DDL_LOCK_KEY)
            for action in actions:
                fence.FENCE.check(f"SQL {action.kind}")
                await conn.execute(action.statement, *action.args)
        for action in actions:
            metrics.SQL_STATEMENTS.labels(action.kind).inc()


async def observe(conn: asyncpg.Connection, tenant: str) -> database.Observed:
    """Read everything the planner compares, for one tenant."""
    role = sql.role_name(tenant)
    row = await conn.fetchrow(
        "SELECT oid, rolcanlogin, rolbypassrls, rolinherit, rolsuper, rolcreaterole, rolcreatedb, "
        "rolreplication, rolpassword FROM pg_authid WHERE rolname = $1",
        role,
    )
    tables = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = ANY($2::text[])",
        migrations.SCHEMA,
        list(sql.TABLE_PRIVILEGES),
    )
    return database.Observed(
        role=_role_state(row),
        member_of=await _memberships(conn, row),
        schema_usage=await _schema_usage(conn, row),
        privileges=await _privileges(conn, row),
        policies=await _policies(conn, tenant),
        registry=await _registry(conn, tenant),
        tables=frozenset(r["relname"] for r in tables),
    )


def _role_state(row: Any) -> database.RoleState | None:
    if row is None:
        return None
    return database.RoleState(
        login=row["rolcanlogin"],
        bypassrls=row["rolbypassrls"],
        inherit=row["rolinherit"],
        superuser=row["rolsuper"],
        createrole=row["rolcreaterole"],
        createdb=row["rolcreatedb"],
        replication=row["rolreplication"],
        verifier=row["rolpassword"],
    )


async def _memberships(conn: asyncpg.Connection, role: Any) -> frozenset[str]:
    if role is None:
        return frozenset()
    rows = await conn.fetch(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = $1",
        role["oid"],
    )
    return frozenset(r["rolname"] for r in rows)


async def _schema_usage(conn: asyncpg.Connection, role: Any) -> bool:
    if role is None:
        return False
    return bool(
        await conn.fetchval(
            "SELECT has_schema_privilege($2::oid, $1, 'USAGE')", migrations.SCHEMA, role["oid"]
        )
    )


TABLE_PRIVILEGE_TYPES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
MAINTAIN_SINCE = 17
"""PostgreSQL 17 added the MAINTAIN table privilege."""


async def _privileges(conn: asyncpg.Connection, role: Any) -> dict[str, frozenset[str]]:
    """The table privileges `role` holds in the schema, asked per privilege (`has_table_privilege`).

    Exploding every table's ACL (`aclexplode`) and filtering by grantee read one row per tenant per
    privilege per table: at 1,000 tenants that was ~50 ms a pass and PostgreSQL's busiest query. The check
    scans the ACL in C instead. For the tenant's NOINHERIT role it counts what is granted to the role itself
    and to PUBLIC, and the schema grants PUBLIC nothing."""
    if role is None:
        return {}
    kinds: tuple[str, ...] = TABLE_PRIVILEGE_TYPES
    if conn.get_server_version().major >= MAINTAIN_SINCE:
        kinds = (*kinds, "MAINTAIN")
    rows = await conn.fetch(
        "SELECT c.relname, array_agg(p.privilege) AS privileges FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace, unnest($3::text[]) AS p(privilege) "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
        "AND has_table_privilege($2::oid, c.oid, p.privilege) GROUP BY c.relname",
        migrations.SCHEMA,
        role["oid"],
        list(kinds),
    )
    return {r["relname"]: frozenset(r["privileges"]) for r in rows}


async def _policies(conn: asyncpg.Connection, tenant: str) -> dict[str, database.PolicyState]:
    rows = await conn.fetch(
        "SELECT tablename, roles, cmd, qual, with_check, permissive FROM pg_policies "
        "WHERE schemaname = $1 AND policyname = $2",
        migrations.SCHEMA,
        sql.policy_name(tenant),
    )
    return {
        r["tablename"]: database.PolicyState(
            roles=tuple(r["roles"]),
            cmd=r["cmd"],
            qual=r["qual"],
            with_check=r["with_check"],
            permissive=r["permissive"],
        )
        for r in rows
    }


async def _registry(conn: asyncpg.Connection, tenant: str) -> dict[str, object] | None:
    row = await conn.fetchrow(
        f"SELECT {', '.join(sql.REGISTRY_COLUMNS)} FROM {sql.table('tenants')} WHERE tenant_id = $1",  # noqa: S608
        tenant,
    )
    return dict(row) if row is not None else None
