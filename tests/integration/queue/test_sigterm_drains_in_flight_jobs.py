"""SIGTERM: the worker stops reading, finishes in-flight jobs within the grace period and exits; jobs it had
not started stay in the stream; jobs still running when the grace period ends stay pending, unacknowledged,
and a restart under the same consumer name re-reads and completes them."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, producer

Spawn = Callable[..., subprocess.Popen[bytes]]
Wait = Callable[..., Awaitable[list[jobs.JobState | None]]]


async def test_sigterm_finishes_in_flight_and_leaves_the_rest_queued(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Spawn,
    wait_for: Wait,
) -> None:
    worker = spawn_worker("w", concurrency=3, grace_seconds=20)
    ids = [e.job_id for e in await produce.enqueue_many([producer.JobRequest("sleep", {"seconds": 1})] * 6)]
    await wait_for(ids[:3], jobs.Status.RUNNING)

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0

    states = await produce.get_many(ids)
    assert [s.status for s in states if s] == [jobs.Status.SUCCEEDED] * 3 + [jobs.Status.QUEUED] * 3
    # No job acknowledged but unfinished: what is not succeeded is still in the stream, none pending.
    assert (await client.xpending(queue_keys.stream, keys.GROUP))["pending"] == 0
    assert await client.xlen(queue_keys.stream) == 3

    spawn_worker("w2", concurrency=3)
    await wait_for(ids, jobs.Status.SUCCEEDED)


async def test_jobs_unfinished_after_grace_stay_pending_and_are_reread_on_restart(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Spawn,
    wait_for: Wait,
) -> None:
    worker = spawn_worker("same", concurrency=2, grace_seconds=0.2, claim_idle_seconds=600)
    ids = [e.job_id for e in await produce.enqueue_many([producer.JobRequest("sleep", {"seconds": 2})] * 2)]
    await wait_for(ids, jobs.Status.RUNNING)

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    pending = await client.xpending(queue_keys.stream, keys.GROUP)
    assert pending["pending"] == 2
    assert [s.status for s in await produce.get_many(ids) if s] == [jobs.Status.RUNNING] * 2

    # The claim idle time is 10 minutes: only the restart's re-read of its own pending entries can run them.
    spawn_worker("same", concurrency=2, claim_idle_seconds=600)
    done = await wait_for(ids, jobs.Status.SUCCEEDED)
    assert [s.attempts for s in done if s] == [2, 2]
    assert (await client.xpending(queue_keys.stream, keys.GROUP))["pending"] == 0
