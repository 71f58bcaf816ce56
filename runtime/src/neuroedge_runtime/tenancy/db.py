"""Tenant-scoped transactions: the only way the runtime runs SQL for a request.

Every transaction first sets `app.current_tenant` with `set_config(..., true)`, which is transaction-local:
when the transaction ends the setting is gone, so a pooled connection never carries one tenant's setting into
another tenant's request. The RLS policies of every tenant table read that setting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from neuroedge_runtime.tenancy import names

SET_TENANT = "SELECT set_config('app.current_tenant', $1, true)"


@asynccontextmanager
async def tenant_transaction(pool: asyncpg.Pool, tenant: str) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection inside one transaction scoped to `tenant` (committed on success)."""
    if not names.is_tenant_name(tenant):
        raise ValueError(f"not a tenant name: {tenant!r}")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(SET_TENANT, tenant)
        yield conn
