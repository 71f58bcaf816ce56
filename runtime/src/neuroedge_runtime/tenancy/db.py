"""Tenant-scoped transactions: the only way the runtime runs SQL for a request.

Every transaction first sets `app.current_tenant` with `set_config(..., true)`, which is transaction-local:
when the transaction ends the setting is gone, so a pooled connection never carries one tenant's setting into
another tenant's request. The RLS policies of every tenant table read that setting.

Round trips are the cost of a short transaction, so BEGIN and the tenant setting travel in one message (two
statements of PostgreSQL's simple query protocol), and a connection goes back to the pool without asyncpg's
default reset query (`reset_connection`): nothing the runtime does outlives a transaction on a connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from neuroedge_runtime.tenancy import names

SET_TENANT = "SELECT set_config('app.current_tenant', $1, true)"


def begin_sql(tenant: str) -> str:
    """BEGIN and the transaction-local tenant setting in one statement string. The tenant is a literal here,
    which is safe only because it is a DNS label (checked again): no quote or backslash can occur in it."""
    if not names.is_tenant_name(tenant):
        raise ValueError(f"not a tenant name: {tenant!r}")
    return f"BEGIN; SELECT set_config('app.current_tenant', '{tenant}', true)"


@asynccontextmanager
async def tenant_transaction(pool: asyncpg.Pool, tenant: str) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside one transaction scoped to `tenant` (committed on success, rolled back on
    any exception, cancellation included)."""
    begin = begin_sql(tenant)
    async with pool.acquire() as conn:
        await conn.execute(begin)
        try:
            yield conn
        except GeneratorExit:
            raise  # closed unfinished (no await allowed): the pool's reset_connection rolls back
        except BaseException:
            if not conn.is_closed():
                await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")


async def reset_connection(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool: at most a ROLLBACK of a transaction left open
    (a cancelled request). asyncpg's default reset (advisory unlocks, CLOSE ALL, UNLISTEN *, RESET ALL) is a
    round trip per request for state the runtime never creates on pooled connections: session settings come
    from the pool's `server_settings`, the tenant setting is transaction-local, and LISTEN has its own
    connection (`tenancy.changes`)."""
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")
