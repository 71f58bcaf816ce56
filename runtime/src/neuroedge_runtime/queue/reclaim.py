"""Recovery and housekeeping that runs beside each worker's consumer loop:

- claim: entries pending longer than the pool's claim idle time belong to a dead worker (a live one keeps its
  in-flight entries fresh, see `heartbeat`); one worker at a time (the `reclaim` lock) moves them to itself
  with XAUTOCLAIM, up to its free slots, and runs them;
- heartbeat: re-claims this process's own long-running (and claimed, waiting) entries with XCLAIM JUSTID,
  which resets their idle time without counting a delivery, so a slow job of a live worker is never taken
  from it;
- prune: forgets consumers that left long ago with nothing pending (under the same lock);
- promote: moves retries whose backoff has elapsed from the delayed set back into the stream (atomic Lua,
  safe to run from every worker at once);
- observe: sets the queue gauges (waiting, pending, delayed, lag; see `figures.py`).
A failure in any of these is logged and retried on the next tick: housekeeping never stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Protocol, cast

import redis.asyncio as aioredis
import redis.exceptions

from neuroedge_queue import figures, keys, scripts
from neuroedge_runtime.queue import lock, metrics, settings

Entry = tuple[bytes, dict[bytes, bytes] | None]
"""A stream entry as redis-py returns it: (entry id, fields), fields None when the entry was trimmed."""


class Worker(Protocol):
    """What the reclaimer needs of the worker it serves (the worker loop imports this module, not the reverse,
    so the dependency runs one way)."""

    in_flight: dict[bytes, float]
    """Entry id -> start time (monotonic) of the jobs the worker runs now."""

    @property
    def backlog(self) -> Sequence[tuple[Entry, int]]:
        """Claimed entries waiting for a slot."""

    def add_claimed(self, entries: Sequence[Entry], deliveries: dict[bytes, int]) -> None:
        """Queue entries claimed from dead consumers."""


log = logging.getLogger(__name__)

PROMOTE = scripts.LuaScript(
    """
-- KEYS: delayed, stream; ARGV: now ms, most to move. Returns {moved, next due ms or false}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, job in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'job', job)
end
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, nxt[2] or false}
"""
)
PRUNE = scripts.LuaScript(
    """
-- KEYS: stream; ARGV: group, min idle ms. Deletes the consumers that hold no pending entry and were idle
-- longer than that; atomic, so a consumer cannot receive an entry between the check and the deletion.
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local f = {}
  for i = 1, #consumer, 2 do f[consumer[i]] = consumer[i + 1] end
  if f['pending'] == 0 and f['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed
"""
)
PRUNE_EVERY = 300.0
"""Seconds between two prunings of departed consumers (each restarted pod leaves one behind)."""
PROMOTE_BATCH = 200
MAX_SLEEP = 1.0


async def delivery_counts(
    client: aioredis.Redis, config: settings.WorkerSettings, entries: Sequence[Entry]
) -> dict[bytes, int]:
    """Entry id -> delivery number of the run about to start. Re-reading own pending entries from history
    and XAUTOCLAIM both count a delivery, so it is the count Redis recorded."""
    if not entries:
        return {}
    rows = await client.xpending_range(
        config.queue_keys.stream,
        keys.GROUP,
        min=entries[0][0],
        max=entries[-1][0],
        count=len(entries) + config.concurrency,
        consumername=config.consumer,
    )
    wanted = {entry_id for entry_id, _ in entries}
    return {row["message_id"]: int(row["times_delivered"]) for row in rows if row["message_id"] in wanted}


def raise_if_cancelled() -> None:
    """Stop a loop whose task was cancelled even if a client library swallowed the CancelledError: redis-py
    can, when the cancel lands inside a command under load, and the loop then ran on, so SIGTERM never
    ended the worker (its shutdown awaits this task)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Reclaimer:
    """The housekeeping loop of one worker process."""

    def __init__(
        self, client: aioredis.Redis, config: settings.WorkerSettings, worker_metrics: metrics.WorkerMetrics
    ) -> None:
        self._client = client
        self._config = config
        self._keys = config.queue_keys
        self._metrics = worker_metrics
        self._every = min(max(config.claim_idle / 4, 0.05), 5.0)
        self._lock = lock.Lock(client, self._keys.lock("reclaim"), ttl_ms=int(self._every * 2000) + 1000)
        self._cursor: bytes | str = "0-0"
        self._next_prune = 0.0

    async def run(self, worker: Worker) -> None:
        """Tick until cancelled: claim, heartbeat and observe every `claim_idle / 4`, promote when due."""
        next_claim = 0.0
        while True:
            wait = MAX_SLEEP
            try:
                if time.monotonic() >= next_claim:
                    next_claim = time.monotonic() + self._every
                    await self.heartbeat(worker)
                    await self.claim(worker)
                    await self.observe()
                wait = await self.promote()
            except redis.exceptions.RedisError as exc:
                log.warning("queue housekeeping failed (%s); retrying next tick", exc)
            except Exception:
                log.exception("queue housekeeping failed; retrying next tick")
            raise_if_cancelled()
            await asyncio.sleep(max(0.005, min(wait, next_claim - time.monotonic())))

    async def promote(self) -> float:
        """Move due retries into the stream; seconds until the next one is due (at most MAX_SLEEP)."""
        now_ms = int(time.time() * 1000)
        reply = cast(
            "list[object]",
            await PROMOTE(self._client, [self._keys.delayed, self._keys.stream], [now_ms, PROMOTE_BATCH]),
        )
        moved, next_due = reply
        if moved == PROMOTE_BATCH:
            return 0.0
        if not next_due:
            return MAX_SLEEP
        return min(MAX_SLEEP, max(0.0, (float(cast("bytes", next_due)) - now_ms) / 1000))

    async def heartbeat(self, worker: Worker) -> None:
        """Reset the idle time of our own entries running longer than one tick."""
        old = time.monotonic() - self._every
        ids: list[int | bytes | str | memoryview[int]] = [
            entry_id for entry_id, began in worker.in_flight.items() if began < old
        ]
        ids.extend(entry_id for (entry_id, _), _ in worker.backlog)
        if ids:
            await self._client.xclaim(
                self._keys.stream, keys.GROUP, self._config.consumer, 0, ids, justid=True
            )

    async def claim(self, worker: Worker) -> None:
        """Take entries idle over `claim_idle` (dead consumers'), at most as many as we run at once, and
        queue them in the worker's backlog."""
        room = self._config.concurrency - len(worker.backlog)
        if room <= 0:
            return
        async with self._lock.held() as mine:
            if not mine:
                return
            await self._prune()
            reply = await self._client.xautoclaim(
                self._keys.stream,
                keys.GROUP,
                self._config.consumer,
                min_idle_time=int(self._config.claim_idle * 1000),
                start_id=self._cursor,
                count=room,
            )
        self._cursor = reply[0]
        claimed = [entry for entry in reply[1] if entry[1] is not None]
        if claimed:
            log.info("claimed %d jobs idle for over %gs", len(claimed), self._config.claim_idle)
            worker.add_claimed(claimed, await delivery_counts(self._client, self._config, claimed))

    async def _prune(self) -> None:
        """Forget consumers gone for over 10 claim idle times (at least 10 minutes) with nothing pending."""
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_EVERY
        idle_ms = int(max(self._config.claim_idle * 10, 600.0) * 1000)
        removed = await PRUNE(self._client, [self._keys.stream], [keys.GROUP, idle_ms])
        if removed:
            log.info("forgot %s departed consumers", removed)

    async def observe(self) -> None:
        """Update the queue gauges."""
        snapshot = await figures.read(self._client, self._keys)
        self._metrics.waiting.set(snapshot.waiting)
        self._metrics.pending.set(snapshot.pending)
        self._metrics.delayed.set(snapshot.delayed)
        self._metrics.lag.set(snapshot.lag_seconds)
