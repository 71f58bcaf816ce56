"""The consumer loop of one worker process: read a batch, start its jobs, repeat.

Throughput comes from the shape of the loop, not from tricks: XREADGROUP takes as many entries as there
are free slots (COUNT) and waits server-side when there are none (BLOCK, so no polling floor); outcomes are
written by the settle writer, many per round trip, while the loop keeps reading; `Slots` (a counting
semaphore the reader can take in bulk) bounds the jobs in flight to the pool's concurrency, so the process
never holds more entries than it runs.

Recovery: on start the worker first re-reads the entries still pending under its own consumer name (a restart
after a crash), then reads new ones; `reclaim.py` brings in the entries of dead consumers. On `stop` (SIGTERM)
it stops reading, gives in-flight jobs `grace` seconds, cancels the rest and leaves their entries pending,
unacknowledged, for another worker.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Sequence
from typing import cast

import redis.asyncio as aioredis
import redis.exceptions

from neuroedge_queue import groups, jobs, keys, retry
from neuroedge_runtime import tracing
from neuroedge_runtime.engines import registry
from neuroedge_runtime.queue import execute, metrics, reclaim, settings, settle

log = logging.getLogger(__name__)

Entry = reclaim.Entry
_TRANSIENT = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
SETTLE_DRAIN_SECONDS = 10.0
"""At shutdown, how long the last outcomes may take to be written; unwritten ones are simply redelivered."""
_STARTUP = retry.RetryPolicy(base=0.5, cap=5.0, max_attempts=12)
"""Redis may come up after the worker (a pod restart, `make up`): keep trying for about a minute."""


class Slots:
    """Free job slots: the reader takes up to a batch at once, every finished job gives one back."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self._changed = asyncio.Event()

    def take(self, most: int) -> int:
        """Take up to `most` free slots, without waiting; returns how many were taken."""
        taken = min(most, self.free)
        self.free -= taken
        return taken

    def give(self, count: int = 1) -> None:
        self.free += count
        self._changed.set()

    def wake(self) -> None:
        """Wake a waiter without freeing a slot (used by `Worker.stop`)."""
        self._changed.set()

    async def changed(self) -> None:
        """Wait until a slot is given back or `wake` is called."""
        self._changed.clear()
        await self._changed.wait()


class Worker:
    """Consumes one pool's stream until `stop` is called."""

    def __init__(
        self,
        config: settings.WorkerSettings,
        client: aioredis.Redis,
        engines: registry.Registry,
        worker_metrics: metrics.WorkerMetrics,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.slots = Slots(config.concurrency)
        self.in_flight: dict[bytes, float] = {}
        """Entry id -> start time (monotonic) of the jobs this process runs now."""
        self.backlog: collections.deque[tuple[Entry, int]] = collections.deque()
        """Claimed entries (with their delivery number) waiting for a slot; the read loop runs them first."""
        self._client = client
        self._keys = config.queue_keys
        self._engines = engines
        self._metrics = worker_metrics
        self._policy = config.retry_policy
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._settler = settle.Settler(client, self._keys, config.result_ttl)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Stop reading; `run` then finishes in-flight jobs within the grace period and returns."""
        self._stopping.set()
        self.slots.wake()

    async def run(self) -> None:
        """Recover own pending entries, then consume until stopped; then drain."""
        await retry.call(lambda: groups.ensure_group(self._client, self._keys), _STARTUP, retry_on=_TRANSIENT)
        writer = asyncio.create_task(self._settler.run(), name="settle")
        reclaimer = asyncio.create_task(
            reclaim.Reclaimer(self._client, self.config, self._metrics).run(self), name="reclaim"
        )
        try:
            await self._read_loop(own_pending=True)
            await self._read_loop(own_pending=False)
        finally:
            reclaimer.cancel()
            await self._finish_in_flight()
            try:
                await asyncio.wait_for(self._settler.drain(), SETTLE_DRAIN_SECONDS)
            except TimeoutError:
                log.warning(
                    "outcomes not written within %gs; their jobs will be redelivered", SETTLE_DRAIN_SECONDS
                )
            writer.cancel()
            await asyncio.gather(reclaimer, writer, return_exceptions=True)

    async def _read_loop(self, *, own_pending: bool) -> None:
        """Read batches: our own pending entries from id 0 until none is left, or new entries (`>`)."""
        cursor = b"0"
        while not self._stopping.is_set():
            if self.slots.free == 0:
                await self.slots.changed()
                continue
            if self.backlog and not own_pending:
                self._run_backlog()
                continue
            taken = self.slots.take(self.config.batch)
            entries = await self._read(b">" if not own_pending else cursor, taken)
            self.slots.give(taken - len(entries))
            if not own_pending:
                self.dispatch(entries)
                continue
            if not entries:
                return
            cursor = entries[-1][0]
            self.dispatch(entries, await reclaim.delivery_counts(self._client, self.config, entries))

    async def _read(self, start: bytes, count: int) -> list[Entry]:
        block = None if start != b">" else self.config.block_ms
        try:
            reply = await self._client.xreadgroup(
                keys.GROUP, self.config.consumer, {self._keys.stream: start}, count=count, block=block
            )
        except _TRANSIENT as exc:
            log.warning("reading the stream failed (%s); retrying", exc)
            await asyncio.sleep(0.5)
            return []
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await groups.ensure_group(self._client, self._keys)
            return []
        return cast("list[Entry]", cast("list[list[object]]", reply)[0][1]) if reply else []

    def add_claimed(self, entries: Sequence[Entry], deliveries: dict[bytes, int]) -> None:
        """Queue entries claimed from dead consumers; the read loop runs them as slots free up (it may be
        blocked in XREADGROUP for up to `block_ms` first, with the slots it reads for)."""
        for entry in entries:
            if entry[0] not in self.in_flight:
                self.backlog.append((entry, deliveries.get(entry[0], 1)))

    def _run_backlog(self) -> None:
        now = time.time()
        for _ in range(self.slots.take(len(self.backlog))):
            (entry_id, fields), delivery = self.backlog.popleft()
            self._dispatch_one(entry_id, fields, delivery, now)

    def dispatch(self, entries: Sequence[Entry], deliveries: dict[bytes, int] | None = None) -> None:
        """Start the jobs of `entries`, whose slots the caller has taken. `deliveries`: which delivery of each
        entry this is (entries read with `>` are on their first)."""
        now = time.time()
        for entry_id, fields in entries:
            if entry_id in self.in_flight:
                self.slots.give()  # claimed back from ourselves: it is running here already
                continue
            self._dispatch_one(entry_id, fields, deliveries.get(entry_id, 1) if deliveries else 1, now)

    def _dispatch_one(
        self, entry_id: bytes, fields: dict[bytes, bytes] | None, delivery: int, now: float
    ) -> None:
        entry = entry_id.decode()
        op, job = _admit(entry, fields, delivery, now, self.config.max_deliveries)
        handler = None
        if op is None and job is not None:
            try:
                handler = self._engines.resolve(job.engine, job.kind, job.config)
            except registry.UnknownEngine as exc:
                op = settle.dead(job.id, entry, str(exc), now, jobs.encode(job))
        if op is not None or job is None or handler is None:
            if op is not None:
                self._settler.submit(op)
                self._count_admission(op, job)
            self.slots.give()
            return
        attempt = job.attempts + delivery
        self._settler.submit(settle.start(job.id, attempt, self.config.consumer, now))
        self._metrics.engine(job.engine).started.inc()
        self.in_flight[entry_id] = time.monotonic()
        task = asyncio.create_task(self._execute(job, entry_id, attempt, handler))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, job: jobs.Job, entry_id: bytes, attempt: int, handler: registry.Handler) -> None:
        config = self.config
        try:
            with tracing.job_span(job, attempt, config.tenant, config.pool, config.consumer) as span:
                timeout = execute.timeout_for(job, config.job_timeout, time.time())
                outcome = await execute.run(handler, job.input, timeout)
                op = execute.settle_op(
                    job,
                    entry_id=entry_id.decode(),
                    attempt=attempt,
                    outcome=outcome,
                    policy=self._policy,
                    now=time.time(),
                    draw=self._rng.random(),
                )
                tracing.record_outcome(span, op.kind, outcome.error)
            self._settler.submit(op)
            self._count_outcome(job.engine, op, outcome)
        finally:
            self.in_flight.pop(entry_id, None)
            self.slots.give()

    def _count_outcome(self, engine: str, op: settle.Op, outcome: execute.Outcome) -> None:
        counters = self._metrics.engine(engine)
        if outcome.ok:
            counters.ok_duration.observe(outcome.seconds)
            counters.succeeded.inc()
            return
        counters.failed_duration.observe(outcome.seconds)
        counters.failed.inc()
        if op.kind == "retry":
            counters.retried.inc()
        elif op.kind == "dead":
            counters.dead_lettered.inc()

    def _count_admission(self, op: settle.Op, job: jobs.Job | None) -> None:
        counters = self._metrics.engine(job.engine if job is not None else "unknown")
        if op.kind == "dead":
            counters.dead_lettered.inc()
        elif op.kind == "fail":
            counters.failed.inc()

    async def _finish_in_flight(self) -> None:
        """Give running jobs `grace` seconds, then cancel them; their entries stay pending, unacknowledged."""
        if not self._tasks:
            return
        _, unfinished = await asyncio.wait(set(self._tasks), timeout=self.config.grace)
        if unfinished:
            log.warning("grace period over: leaving %d unfinished jobs pending for others", len(unfinished))
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)


def _admit(
    entry: str, fields: dict[bytes, bytes] | None, delivery: int, now: float, max_deliveries: int
) -> tuple[settle.Op | None, jobs.Job | None]:
    """Decide, before running anything, whether an entry must not run (pure): an entry deleted from the
    stream is only acknowledged, one that cannot be decoded or was delivered too often goes to the
    dead-letter stream, one past its deadline fails. (None, job) means: run it."""
    if fields is None:
        return settle.ack(entry), None
    try:
        job = jobs.decode_entry(fields)
    except jobs.JobDecodeError as exc:
        raw = fields.get(jobs.FIELD, repr(fields).encode())
        return settle.dead(None, entry, str(exc), now, raw), None
    attempt = job.attempts + delivery
    if attempt > max_deliveries:
        error = f"delivered {attempt - 1} times without an outcome (worker crashed or timed out every time)"
        return settle.dead(job.id, entry, error, now, jobs.encode(job)), job
    if job.deadline is not None and now >= job.deadline:
        return settle.fail(job.id, entry, "deadline passed before the job started", now), job
    return None, job
