"""The tenant registry (`neuroedge.tenants`): token TTLs, rate limits and suspension, cached in process and
kept exact by the registry change feed (`tenancy.changes`): a suspension takes effect on the next request.

Rows are written by the Tenant reconciler; the runtime only reads them. Reading happens under RLS in a tenant
transaction, so a registry lookup can only ever see the row of the tenant it asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from prometheus_client import Counter

from neuroedge_runtime.tenancy import cache, changes, db


@dataclass(frozen=True)
class TenantInfo:
    """The non-secret settings of one tenant."""

    tenant: str
    suspended: bool
    access_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    rate_limit_rps: float
    rate_limit_burst: int
    user_rate_limit_rps: float
    user_rate_limit_burst: int
    llm_tokens_per_minute: int | None = None
    llm_tokens_per_day: int | None = None


_SELECT = (
    "SELECT tenant_id, suspended, access_token_ttl_seconds, refresh_token_ttl_seconds, rate_limit_rps, "
    "rate_limit_burst, user_rate_limit_rps, user_rate_limit_burst, llm_tokens_per_minute, llm_tokens_per_day "
    "FROM neuroedge.tenants WHERE tenant_id = $1"
)


async def fetch(conn: asyncpg.Connection, tenant: str) -> TenantInfo | None:
    """The tenant's row, read on a connection already scoped to that tenant."""
    row = await conn.fetchrow(_SELECT, tenant)
    if row is None:
        return None
    return TenantInfo(
        tenant=row["tenant_id"],
        suspended=row["suspended"],
        access_token_ttl_seconds=row["access_token_ttl_seconds"],
        refresh_token_ttl_seconds=row["refresh_token_ttl_seconds"],
        rate_limit_rps=row["rate_limit_rps"],
        rate_limit_burst=row["rate_limit_burst"],
        # Without a per-user limit a single user may use the tenant's whole allowance.
        user_rate_limit_rps=row["user_rate_limit_rps"] or row["rate_limit_rps"],
        user_rate_limit_burst=row["user_rate_limit_burst"] or row["rate_limit_burst"],
        llm_tokens_per_minute=row["llm_tokens_per_minute"],
        llm_tokens_per_day=row["llm_tokens_per_day"],
    )


class TenantRegistry:
    """Registry rows, absent tenants included, cached while the change feed is live (no feed: no cache)."""

    def __init__(self, pool: asyncpg.Pool, feed: changes.Feed | None, lookups: Counter | None = None) -> None:
        self._pool = pool
        self._rows: cache.RegistryCache[str, TenantInfo | None] = cache.RegistryCache(
            feed, "tenants", lambda change: change.tenant, lookups
        )

    async def get(self, tenant: str) -> TenantInfo | None:
        """The tenant's settings, or None when the registry has no such tenant."""
        return await self._rows.get(tenant, lambda: self._read(tenant))

    async def _read(self, tenant: str) -> TenantInfo | None:
        async with db.tenant_transaction(self._pool, tenant) as conn:
            return await fetch(conn, tenant)
