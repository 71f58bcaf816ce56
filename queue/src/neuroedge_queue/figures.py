"""Queue figures of one pool: what the worker's gauges show and what the WorkerPool reconciler scales on.

Settled entries are deleted from the stream (`settle.py`), so the stream holds only jobs waiting for a
worker and jobs delivered but not settled: waiting = length - pending. The lag is the age of the oldest
waiting job, read from its entry id (the id is the time it was added, in milliseconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from neuroedge_queue import keys


@dataclass(frozen=True)
class QueueFigures:
    """A snapshot of one pool's queue."""

    waiting: int
    """Jobs in the stream not yet delivered to any worker."""
    pending: int
    """Jobs delivered to a worker and not yet settled (running, or held by a dead worker until claimed)."""
    delayed: int
    """Jobs waiting for a retry after a failure."""
    dead: int
    """Jobs in the dead-letter stream."""
    lag_seconds: float
    """Age of the oldest waiting job; 0 when none waits."""


async def read(client: aioredis.Redis, queue_keys: keys.QueueKeys, now: float | None = None) -> QueueFigures:
    """The figures of the queue of `queue_keys` (all zero when the pool has no queue yet)."""
    async with client.pipeline(transaction=False) as pipe:
        pipe.exists(queue_keys.stream)
        pipe.xlen(queue_keys.stream)
        pipe.zcard(queue_keys.delayed)
        pipe.xlen(queue_keys.dlq)
        exists, length, delayed, dead = await pipe.execute()
    group = await _group(client, queue_keys) if exists else None
    if group is None:
        return QueueFigures(int(length), 0, int(delayed), int(dead), 0.0)
    pending = int(group["pending"])
    last = group["last-delivered-id"]
    last_id = last if isinstance(last, bytes) else str(last).encode()
    oldest = await client.xrange(queue_keys.stream, min=b"(" + last_id, count=1)
    lag = 0.0
    if oldest:
        lag = max(0.0, (time.time() if now is None else now) - entry_time(cast("bytes", oldest[0][0])))
    return QueueFigures(max(0, int(length) - pending), pending, int(delayed), int(dead), lag)


async def _group(client: aioredis.Redis, queue_keys: keys.QueueKeys) -> dict[str, Any] | None:
    groups: list[dict[str, Any]] = await client.xinfo_groups(queue_keys.stream)
    return next((g for g in groups if g["name"] in (keys.GROUP, keys.GROUP.encode())), None)


def entry_time(entry_id: bytes) -> float:
    """Epoch seconds of a stream entry id (`<ms>-<seq>`)."""
    return int(entry_id.split(b"-", 1)[0]) / 1000
