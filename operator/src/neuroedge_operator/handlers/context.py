"""What every handler gets through kopf's `memo`: settings and the clients, opened once at start-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from neuroedge_operator import metrics
from neuroedge_operator.clients import kube, postgres, vector_store
from neuroedge_operator.clients import redis as redis_client
from neuroedge_operator.settings import OperatorSettings


@dataclass
class Context:
    """The operator's shared state; the per-object locks keep a timer and an update of the same object from
    reconciling at once (kopf runs timers beside the event handlers)."""

    settings: OperatorSettings
    kube: kube.Kube
    db: postgres.Database
    cache: redis_client.Cache
    vectors: vector_store.Backends = field(default_factory=vector_store.Backends)
    """The VectorIndex backends (a factory: tests put an in-process Qdrant here)."""
    tenants: metrics.ConditionCensus = field(default_factory=lambda: metrics.ConditionCensus("Tenant"))
    vector_indexes: metrics.ConditionCensus = field(
        default_factory=lambda: metrics.ConditionCensus("VectorIndex")
    )
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    async def close(self) -> None:
        await self.kube.close()
        await self.vectors.close()
        await self.db.close()
        await self.cache.close()


async def open_context(settings: OperatorSettings) -> Context:
    """Open the clients (connections to PostgreSQL and Redis are made lazily, on first use)."""
    db = postgres.Database(settings.database_url)
    return Context(
        settings=settings,
        kube=await kube.Kube.connect(),
        db=db,
        cache=redis_client.Cache(settings.redis_url),
        vectors=vector_store.from_settings(settings, db),
    )
