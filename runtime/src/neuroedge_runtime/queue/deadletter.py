"""The dead-letter stream of a pool: jobs that used up their deliveries, listed with their last error, and
re-driven (put back into the queue with a fresh count of attempts, under the same job id).

A re-drive deletes the dead-letter entry and adds the job to the stream in one Lua script: if two operators
re-drive the same entry at once, only one of them adds the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, scripts

REDRIVE = scripts.LuaScript(
    """
-- KEYS: dlq, stream, job hash; ARGV: dlq entry id, payload, ttl ms. Returns 1 if re-driven, 0 if gone.
if redis.call('XDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
redis.call('HSET', KEYS[3], 'status', 'queued', 'attempts', 0)
redis.call('HDEL', KEYS[3], 'error', 'result', 'finished_at', 'retry_at', 'started_at', 'worker')
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
"""
)


class NotRedrivable(ValueError):  # noqa: N818 - reads as what the entry is
    """The dead-letter entry does not exist (any more) or holds no decodable job."""


@dataclass(frozen=True)
class DeadJob:
    """One entry of the dead-letter stream."""

    entry_id: str
    error: str
    failed_at: float
    job: jobs.Job | None
    """None when the original entry could not be decoded (`raw` keeps what it held)."""
    raw: bytes


def _dead_job(entry_id: bytes, fields: dict[bytes, bytes]) -> DeadJob:
    raw = fields.get(b"job", b"")
    try:
        job: jobs.Job | None = jobs.decode(raw)
    except jobs.JobDecodeError:
        job = None
    return DeadJob(
        entry_id=entry_id.decode(),
        error=fields.get(b"error", b"").decode(errors="replace"),
        failed_at=float(fields.get(b"failed_at", b"0")),
        job=job,
        raw=raw,
    )


async def list_dead(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, count: int = 100, after: str | None = None
) -> list[DeadJob]:
    """Up to `count` dead jobs, oldest first, after entry id `after` (for paging)."""
    start = f"({after}" if after else "-"
    rows = cast(
        "list[tuple[bytes, dict[bytes, bytes]]]", await client.xrange(queue_keys.dlq, min=start, count=count)
    )
    return [_dead_job(entry_id, fields) for entry_id, fields in rows]


async def redrive(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, entry_id: str, result_ttl: float
) -> str | None:
    """Put the job of dead-letter entry `entry_id` back into the queue; its job id, or None if another caller
    re-drove it first. NotRedrivable when the entry is missing or undecodable."""
    rows = await client.xrange(queue_keys.dlq, min=entry_id, max=entry_id)
    if not rows:
        raise NotRedrivable(f"no dead-letter entry {entry_id}")
    dead = _dead_job(*cast("tuple[bytes, dict[bytes, bytes]]", rows[0]))
    if dead.job is None:
        raise NotRedrivable(f"dead-letter entry {entry_id} holds no valid job: {dead.error}")
    fresh = dead.job.model_copy(update={"attempts": 0})
    done = await REDRIVE(
        client,
        [queue_keys.dlq, queue_keys.stream, queue_keys.job(fresh.id)],
        [entry_id, jobs.encode(fresh), int(result_ttl * 1000)],
    )
    return fresh.id if done else None
