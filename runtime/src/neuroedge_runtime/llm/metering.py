"""Usage metering: every completion's tokens, per tenant, Engine and UTC day, in Prometheus counters and in
`neuroedge.llm_usage` (row-level security: the runtime writes and reads it only inside a tenant transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from neuroedge_runtime.llm.sse import Usage
from neuroedge_runtime.tenancy import db

_UPSERT = (
    "INSERT INTO neuroedge.llm_usage AS u "
    "(tenant_id, engine, day, requests, prompt_tokens, completion_tokens) "
    "VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (tenant_id, engine, day) DO UPDATE SET "
    "requests = u.requests + 1, prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens, "
    "completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens, updated_at = now()"
)
_SELECT = (
    "SELECT engine, day, requests, prompt_tokens, completion_tokens FROM neuroedge.llm_usage "
    "WHERE tenant_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day, engine"
)


class LLMMetrics:
    """Prometheus counters of the gateway, in the app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.tokens = Counter(
            "neuroedge_llm_tokens",
            "Tokens used through the LLM gateway (as the upstream reported them)",
            ["tenant", "engine", "type"],
            registry=registry,
        )
        self.requests = Counter(
            "neuroedge_llm_requests",
            "Chat completions through the LLM gateway, by outcome",
            ["tenant", "engine", "outcome"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "neuroedge_llm_fallbacks",
            "Upstreams skipped because they failed (5xx or unreachable)",
            ["tenant", "engine"],
            registry=registry,
        )


@dataclass(frozen=True)
class UsageRow:
    engine: str
    day: date
    requests: int
    prompt_tokens: int
    completion_tokens: int


class UsageStore:
    """The usage table, always through a tenant-scoped transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, tenant: str, engine: str, usage: Usage, when: datetime | None = None) -> None:
        day = (when or datetime.now(UTC)).date()
        async with db.tenant_transaction(self._pool, tenant) as conn:
            await conn.execute(_UPSERT, tenant, engine, day, usage.prompt_tokens, usage.completion_tokens)

    async def read(self, tenant: str, first: date, last: date) -> list[UsageRow]:
        async with db.tenant_transaction(self._pool, tenant) as conn:
            rows = await conn.fetch(_SELECT, tenant, first, last)
        return [UsageRow(**dict(row)) for row in rows]
