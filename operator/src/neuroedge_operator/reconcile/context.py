"""What every handler gets through kopf's `memo`: settings and the clients, opened once at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from neuroedge_operator import metrics
from neuroedge_operator.clients import informer, kube, postgres, queues, vector_store
from neuroedge_operator.clients import redis as redis_client
from neuroedge_operator.reconcile import locks
from neuroedge_operator.settings import OperatorSettings

log = logging.getLogger(__name__)
CACHE_SYNC_WAIT = 30.0
"""Seconds start-up waits for the watch caches' first lists (a cache not in sync yet is simply not used)."""


@dataclass
class Context:
    """The operator's shared state; the per-object locks keep a periodic pass and an update of the same object
    from reconciling at once (the periodic loop runs beside kopf's event handlers)."""

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
    engines: metrics.ConditionCensus = field(default_factory=lambda: metrics.ConditionCensus("Engine"))
    worker_pools: metrics.ConditionCensus = field(
        default_factory=lambda: metrics.ConditionCensus("WorkerPool")
    )
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When this operator process started: schedules due before it are catch-ups."""
    queues: queues.Queues = field(init=False)
    """The pools' queues over the admin Redis URL (connects lazily, on first use)."""
    watch_cache: informer.Cache | None = None
    """The watch caches that answer `kube`'s reads of children and referenced objects."""
    _locks: locks.KeyedLocks = field(default_factory=locks.KeyedLocks)
    _keda: tuple[float, bool] | None = None
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.queues = queues.Queues(self.settings.redis_url)

    def lock(self, key: str) -> AbstractAsyncContextManager[None]:
        """`async with ctx.lock(key):` runs alone among the passes over the object `key` names."""
        return self._locks.hold(key)

    def spawn(self, work: Coroutine[object, object, None], name: str) -> None:
        """Run `work` beside the handlers (a pass a watch-cache change asks for); kept referenced until it
        ends, its failure logged (the object's resync timer retries), cancelled when the context closes."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    def census(self, kind: str) -> metrics.ConditionCensus:
        """The condition census of `kind` (Tenant, VectorIndex, Engine or WorkerPool)."""
        by_kind = {c.kind: c for c in (self.tenants, self.vector_indexes, self.engines, self.worker_pools)}
        return by_kind[kind]

    async def keda_installed(self) -> bool:
        """Whether KEDA's ScaledObject CRD is installed, asked of the API at most once per
        `keda_check_interval` (every WorkerPool pass needs the answer)."""
        now = time.monotonic()
        if self._keda is None or now - self._keda[0] >= self.settings.keda_check_interval:
            crd = await self.kube.get(
                "apiextensions.k8s.io/v1", "CustomResourceDefinition", "scaledobjects.keda.sh"
            )
            self._keda = (now, crd is not None)
        return self._keda[1]

    async def close(self) -> None:
        if self.watch_cache is not None:
            await self.watch_cache.stop()
        for task in list(self._background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.queues.close()
        await self.kube.close()
        await self.vectors.close()
        await self.db.close()
        await self.cache.close()


async def open_context(settings: OperatorSettings) -> Context:
    """Open the clients and fill the watch caches (PostgreSQL and Redis connect lazily, on first use)."""
    db = postgres.Database(settings.database_url)
    client = await kube.Kube.connect()
    watch_cache = informer.Cache(client, watch_timeout=settings.watch_server_timeout)
    await watch_cache.start(wait=CACHE_SYNC_WAIT)
    client.cache = watch_cache
    return Context(
        settings=settings,
        kube=client,
        db=db,
        cache=redis_client.Cache(settings.redis_url),
        vectors=vector_store.from_settings(settings, db),
        watch_cache=watch_cache,
    )
