"""A worker killed with SIGKILL mid-job: its jobs are claimed by a live worker after the claim idle time and
complete there (attempt 2), and nothing is left pending."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, producer

Spawn = Callable[..., subprocess.Popen[bytes]]
Wait = Callable[..., Awaitable[list[jobs.JobState | None]]]


async def test_jobs_of_a_killed_worker_complete_on_another(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Spawn,
    wait_for: Wait,
) -> None:
    victim = spawn_worker("victim", concurrency=8, claim_idle_seconds=1)
    enqueued = await produce.enqueue_many(
        [producer.JobRequest("sleep", {"seconds": 3, "n": n}) for n in range(5)]
    )
    ids = [e.job_id for e in enqueued]
    running = await wait_for(ids, jobs.Status.RUNNING)
    assert {s.worker for s in running if s} == {"victim"}

    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    spawn_worker("survivor", concurrency=8, claim_idle_seconds=1)

    done = await wait_for(ids, jobs.Status.SUCCEEDED, timeout=60)
    for n, state in enumerate(done):
        assert state is not None
        assert state.worker == "survivor"
        assert state.attempts == 2  # the killed run, then the claimed one
        assert state.result == {"seconds": 3, "n": n}
    assert (await client.xpending(queue_keys.stream, keys.GROUP))["pending"] == 0
    assert await client.xlen(queue_keys.stream) == 0
