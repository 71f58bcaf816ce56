"""The tenant registry (`neuroedge.tenants`): token TTLs, rate limits and suspension, cached briefly.

Rows are written by the Tenant reconciler; the runtime only reads them. Reading happens under RLS in a tenant
transaction, so a registry lookup can only ever see the row of the tenant it asks for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from neuroedge_runtime.tenancy import db


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
    """Registry rows cached for `ttl_seconds` (0 disables the cache), absent tenants included."""

    def __init__(self, pool: asyncpg.Pool, ttl_seconds: float, clock: Callable[[], float] = time.monotonic):
        self._pool = pool
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, TenantInfo | None]] = {}

    async def get(self, tenant: str) -> TenantInfo | None:
        """The tenant's settings, or None when the registry has no such tenant."""
        now = self._clock()
        cached = self._cache.get(tenant)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        async with db.tenant_transaction(self._pool, tenant) as conn:
            info = await fetch(conn, tenant)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[tenant] = (now, info)
        return info
