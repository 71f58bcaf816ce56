"""pgvector: the tables of VectorIndexes in the shared PostgreSQL database, read from and changed through the
catalog.

A new table is created whole in one transaction (it is empty, so plain CREATE INDEX is instant). On a table
that holds data, indexes are built and dropped CONCURRENTLY, outside any transaction, so that the runtime's
searches and writes go on while an HNSW index is rebuilt; each step is idempotent and the catalog is re-read
before it, so a rebuild interrupted half-way is finished by the next pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from neuroedge_operator import metrics
from neuroedge_operator.builders import pgvector as ddl
from neuroedge_operator.builders import sql
from neuroedge_operator.clients import fence, postgres
from neuroedge_operator.clients.vector_backend import BackendError, BackendUnreachableError
from neuroedge_operator.db import migrations
from neuroedge_operator.plan import database
from neuroedge_operator.plan import vectorindex as plan

_TABLE = (
    "SELECT c.oid, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner, "
    "(SELECT a.atttypmod FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'embedding' "
    "AND NOT a.attisdropped) AS dimension "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'r'"
)
_INDEXES = (
    "SELECT i.relname, am.amname, x.indisvalid, i.reloptions, obj_description(i.oid, 'pg_class') AS comment, "
    "oc.opcname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam "
    "LEFT JOIN pg_opclass oc ON oc.oid = x.indclass[0] WHERE x.indrelid = $1 ORDER BY i.relname"
)
_GRANTS = (
    "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END AS grantee, "
    "array_agg(a.privilege_type) AS privileges FROM pg_class c, aclexplode(c.relacl) a "
    "WHERE c.oid = $1 GROUP BY 1"
)
_POLICIES = (
    "SELECT policyname, roles, cmd, qual, with_check, permissive FROM pg_policies "
    "WHERE schemaname = $1 AND tablename = $2"
)


class PgvectorBackend:
    """VectorIndexes as tables `neuroedge.<storage name>`, on the operator's admin connection pool."""

    def __init__(self, db: postgres.Database) -> None:
        self._db = db

    async def close(self) -> None:  # the pool belongs to the Database
        return None

    async def _conn(self) -> Any:
        try:
            pool = await self._db.pool()
        except postgres.UNREACHABLE as exc:
            raise BackendUnreachableError(f"PostgreSQL is unreachable: {exc}") from None
        return pool.acquire(timeout=postgres.ACQUIRE_TIMEOUT)

    async def observe(self, layout: plan.Layout) -> plan.Storage | None:
        try:
            async with await self._conn() as conn:
                return await observe(conn, layout)
        except postgres.UNREACHABLE as exc:
            raise BackendUnreachableError(f"PostgreSQL is unreachable: {exc}") from None
        except asyncpg.PostgresError as exc:
            raise BackendError(f"reading the catalog failed: {exc}") from None

    async def apply(self, layout: plan.Layout, actions: Sequence[plan.Action]) -> None:
        try:
            for action in actions:
                await self._apply(layout, action)
                metrics.VECTOR_ACTIONS.labels("pgvector", action.kind).inc()
        except postgres.UNREACHABLE as exc:
            raise BackendUnreachableError(f"PostgreSQL is unreachable: {exc}") from None
        except asyncpg.PostgresError as exc:
            raise BackendError(f"{type(exc).__name__}: {exc}") from None

    async def _apply(self, layout: plan.Layout, action: plan.Action) -> None:
        table = layout.storage_name
        if action.kind == "create_storage":
            statements = [
                *ddl.create_table_sql(
                    table, layout.dimension, layout.distance, layout.m, layout.ef_construct
                ),
                *(
                    s
                    for i in sorted(layout.payload_indexes)
                    for s in ddl.payload_index_sql(table, i.field, i.type)
                ),
                *ddl.secure_sql(table, layout.tenant),
            ]
            await self._db.execute([database.Action("create", s) for s in statements])
        elif action.kind == "secure_access":
            statements = ddl.secure_sql(table, layout.tenant, action.roles, action.policies)
            await self._db.execute([database.Action("grant", s) for s in statements])
        elif action.kind == "rebuild_hnsw":
            await self._rebuild_hnsw(layout)
        elif action.kind == "create_payload_index" and action.index is not None:
            await self._create_payload_index(table, action.index)
        elif action.kind == "drop_payload_index" and action.index is not None:
            name = ddl.payload_index_name(table, action.index.field, action.index.type)
            await self._autocommit([ddl.drop_index_sql(name, concurrently=True)])
        # set_on_disk: never planned for pgvector (a table is always on disk).

    async def _autocommit(self, statements: Sequence[str]) -> None:
        async with await self._conn() as conn:
            for statement in statements:
                fence.FENCE.check("SQL index")
                await conn.execute(statement)
                metrics.SQL_STATEMENTS.labels("index").inc()

    async def _hnsw_indexes(self, table: str) -> list[Any]:
        async with await self._conn() as conn:
            row = await conn.fetchrow(_TABLE, migrations.SCHEMA, table)
            if row is None:
                raise BackendError(f"table {table} disappeared during the reconcile")
            return [r for r in await conn.fetch(_INDEXES, row["oid"]) if r["amname"] == "hnsw"]

    async def _rebuild_hnsw(self, layout: plan.Layout) -> None:
        """Build the wanted index beside the old one, then drop every other HNSW index of the table: the
        table keeps a usable index throughout and no row is touched."""
        table = layout.storage_name
        wanted = ddl.hnsw_index_name(table, layout.m, layout.ef_construct)
        existing = await self._hnsw_indexes(table)
        current = next((r for r in existing if r["relname"] == wanted), None)
        steps = []
        if current is None or not current["indisvalid"]:
            steps += [
                ddl.drop_index_sql(wanted, concurrently=True),  # a leftover of a failed build, if any
                ddl.hnsw_index_sql(table, layout.distance, layout.m, layout.ef_construct, concurrently=True),
            ]
        steps += [
            ddl.drop_index_sql(r["relname"], concurrently=True) for r in existing if r["relname"] != wanted
        ]
        await self._autocommit(steps)

    async def _create_payload_index(self, table: str, index: plan.PayloadIndex) -> None:
        name = ddl.payload_index_name(table, index.field, index.type)
        create, comment = ddl.payload_index_sql(table, index.field, index.type, concurrently=True)
        # Not observed as ours, so anything by this name is the leftover of a failed build.
        await self._autocommit([ddl.drop_index_sql(name, concurrently=True), create, comment])

    async def count(self, storage_name: str) -> int:
        try:
            async with await self._conn() as conn:
                return int(await conn.fetchval(ddl.count_sql(storage_name)))
        except postgres.UNREACHABLE as exc:
            raise BackendUnreachableError(f"PostgreSQL is unreachable: {exc}") from None
        except asyncpg.PostgresError as exc:
            raise BackendError(f"counting rows failed: {exc}") from None

    async def drop(self, storage_name: str) -> bool:
        try:
            async with await self._conn() as conn:
                exists = await conn.fetchrow(_TABLE, migrations.SCHEMA, storage_name)
            if exists is None:
                return False
            await self._db.execute([database.Action("drop", s) for s in ddl.drop_table_sql(storage_name)])
        except postgres.UNREACHABLE as exc:
            raise BackendUnreachableError(f"PostgreSQL is unreachable: {exc}") from None
        except asyncpg.PostgresError as exc:
            raise BackendError(f"dropping {storage_name} failed: {exc}") from None
        return True


async def observe(conn: asyncpg.Connection, layout: plan.Layout) -> plan.Storage | None:
    """The table of `layout` as the catalog describes it; None when it does not exist."""
    table = await conn.fetchrow(_TABLE, migrations.SCHEMA, layout.storage_name)
    if table is None:
        return None
    indexes = await conn.fetch(_INDEXES, table["oid"])
    hnsw = [r for r in indexes if r["amname"] == "hnsw"]
    valid = [r for r in hnsw if r["indisvalid"]]
    grants = {r["grantee"]: frozenset(r["privileges"]) for r in await conn.fetch(_GRANTS, table["oid"])}
    policies = await conn.fetch(_POLICIES, migrations.SCHEMA, layout.storage_name)
    stray_roles, stray_policies, access_ok = _access(layout.tenant, table, grants, policies)
    return plan.Storage(
        dimension=table["dimension"] if table["dimension"] and table["dimension"] > 0 else None,
        distance=ddl.OPCLASS_DISTANCE.get(valid[0]["opcname"]) if valid else None,
        hnsw=ddl.hnsw_parameters(valid[0]["reloptions"]) if valid else None,
        hnsw_clean=len(hnsw) == 1 and len(valid) == 1,
        payload_indexes=frozenset(
            plan.PayloadIndex(*parsed)
            for r in indexes
            if r["indisvalid"] and (parsed := ddl.parse_payload_comment(r["comment"])) is not None
        ),
        access_ok=access_ok,
        stray_roles=stray_roles,
        stray_policies=stray_policies,
    )


def _access(
    tenant: str, table: Any, grants: dict[str, frozenset[str]], policies: Sequence[Any]
) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(roles to revoke, policies to drop, whether everything is as `secure_sql` makes it)."""
    role = sql.role_name(tenant)
    allowed = {migrations.OWNER_ROLE, migrations.RUNTIME_ROLE, role}
    stray_roles = tuple(sorted(g for g in grants if g not in allowed and g != "PUBLIC"))
    expected = {
        ddl.RUNTIME_POLICY: ((migrations.RUNTIME_ROLE,), ddl.runtime_policy_expression()),
        sql.policy_name(tenant): ((role,), sql.policy_expression(tenant)),
    }
    stray_policies = tuple(sorted(p["policyname"] for p in policies if p["policyname"] not in expected))
    policies_ok = len(policies) == len(expected) and all(
        p["policyname"] in expected
        and (tuple(p["roles"]), p["qual"]) == expected[p["policyname"]]
        and p["with_check"] == p["qual"]
        and p["cmd"] == "ALL"
        and p["permissive"] == "PERMISSIVE"
        for p in policies
    )
    grants_ok = (
        not stray_roles
        and "PUBLIC" not in grants
        and all(grants.get(r) == sql.DML for r in (migrations.RUNTIME_ROLE, role))
    )
    rls_ok = (
        table["relrowsecurity"] and table["relforcerowsecurity"] and table["owner"] == migrations.OWNER_ROLE
    )
    return stray_roles, stray_policies, bool(policies_ok and grants_ok and rls_ok)
