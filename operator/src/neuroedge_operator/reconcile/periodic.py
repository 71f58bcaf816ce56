"""The periodic passes (resync, schedules, autoscaling) of every object: one loop over the watch caches.

kopf timers cost an asyncio task per object and step, and kopf keeps each timed object's full body alive for
them (at 1,000 Tenants and 1,000 WorkerPools: 316 MB resident, 259 MB without). Here the handlers declare
`Job`s instead; one loop, started with kopf on the leader and stopped with it, wakes at least every `TICK`
seconds, walks each job's kind in the watch cache, asks the job's ledger (plan/periodic.py) which objects are
due and runs their step, at most `CONCURRENCY` at once (the others wait in a queue and start as slots free
up, without walking the caches again). A step raising is logged and retried `interval` later, as kopf's
timers did; an object being deleted has no periodic pass (kopf stopped its timers too), and a kind whose cache
is not in sync is skipped until it is (its objects' passes wait, they are not lost).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neuroedge_operator import tracing
from neuroedge_operator.plan import periodic
from neuroedge_operator.reconcile.context import Context

log = logging.getLogger(__name__)
Step = Callable[[Context, Mapping[str, Any]], Awaitable[object]]
Filter = Callable[[Mapping[str, Any]], bool]
TICK = 1.0
"""The longest sleep of the loop: how late a new object is first noticed (and so its first pass)."""
CONCURRENCY = 32
"""Passes running at once: 1,000 objects due together are worked through in a few seconds without opening
1,000 database and Redis exchanges at once."""


def _always(_body: Mapping[str, Any]) -> bool:
    return True


@dataclass(frozen=True)
class Job:
    """One periodic step of one kind: run `step` on every object `when` selects, first `initial_delay`
    seconds after it is first seen (or selected), then every `interval` seconds after the previous pass."""

    api_version: str
    kind: str
    name: str
    """What the pass is called in logs and traces: `reconcile` (the resync), `schedule`, `autoscale`."""
    step: Step
    interval: float
    initial_delay: float = 0.0
    when: Filter = _always
    """Reads the cached object (never changes it)."""


def key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def _split(object_key: str) -> tuple[str, str]:
    namespace, _, name = object_key.rpartition("/")
    return namespace, name


class Loop:
    """The jobs' ledgers, the passes waiting for a slot and those in flight; `run()` until cancelled."""

    def __init__(
        self,
        ctx: Context,
        jobs: Sequence[Job],
        *,
        concurrency: int = CONCURRENCY,
        tick: float = TICK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ctx, self._clock, self._tick, self._concurrency = ctx, clock, tick, concurrency
        self._jobs = [(job, periodic.Ledger(job.interval, job.initial_delay)) for job in jobs]
        self._waiting: collections.deque[tuple[Job, periodic.Ledger, str]] = collections.deque()
        self._running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        try:
            while True:
                pause = self.sweep()
                await asyncio.sleep(pause)
        finally:
            self._waiting.clear()
            for task in self._running:
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    def sweep(self) -> float:
        """Queue the passes due now and start as many as there are free slots (each pass that ends starts
        the next one waiting); returns how long to sleep until the next sweep."""
        next_due: list[float | None] = []
        for job, ledger in self._jobs:
            present = self._present(job)
            if present is None:
                continue  # the kind's cache is out of sync: its objects wait, they are not lost
            for due in ledger.due(present, self._clock()):
                ledger.started(due)  # queued counts as running: never queued twice
                self._waiting.append((job, ledger, due))
            next_due.append(ledger.next_due())
        self._start_waiting()
        return periodic.pause(next_due, self._clock(), self._tick)

    def _start_waiting(self) -> None:
        while self._waiting and len(self._running) < self._concurrency:
            job, ledger, due = self._waiting.popleft()
            task = asyncio.create_task(self._pass(job, ledger, due), name=f"{job.name} {job.kind} {due}")
            self._running.add(task)
            task.add_done_callback(self._ended)

    def _present(self, job: Job) -> list[str] | None:
        cache = self._ctx.watch_cache
        listed = cache.walk(job.api_version, job.kind) if cache is not None else None
        if listed is None:
            return None
        namespaces = set(self._ctx.settings.watch_namespaces)
        return [
            key(namespace, name)
            for namespace, name, obj in listed
            if (not namespace or not namespaces or namespace in namespaces)
            and not obj["metadata"].get("deletionTimestamp")
            and job.when(obj)
        ]

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._start_waiting()

    async def _pass(self, job: Job, ledger: periodic.Ledger, object_key: str) -> None:
        try:
            cache = self._ctx.watch_cache
            namespace, name = _split(object_key)
            body = cache.copy(job.api_version, job.kind, namespace, name) if cache is not None else None
            if body is None or body["metadata"].get("deletionTimestamp"):
                return
            with tracing.step_span(job.name, body):
                await job.step(self._ctx, body)
        except Exception:
            log.exception("%s of %s %s failed (retried in %ss)", job.name, job.kind, object_key, job.interval)
        finally:
            ledger.finished(object_key, self._clock())
