"""A job that fails is retried after a jittered backoff (waiting in the delayed set meanwhile) and succeeds
once its cause is gone; the retries do not hold a worker slot."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, producer

Spawn = Callable[..., subprocess.Popen[bytes]]
Wait = Callable[..., Awaitable[list[jobs.JobState | None]]]


async def test_failing_job_is_retried_until_it_succeeds(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Spawn,
    wait_for: Wait,
) -> None:
    spawn_worker("w", concurrency=1, max_deliveries=100, retry_base_seconds=0.1, retry_cap_seconds=0.4)
    until = time.time() + 1.5
    job_id = (await produce.enqueue(producer.JobRequest("flaky", {"until": until}))).job_id
    # While it waits for a retry it is queued, with the last error and the time of the retry.
    waiting = await produce.get(job_id)
    for _ in range(400):
        waiting = await produce.get(job_id)
        if waiting is not None and waiting.error is not None and waiting.status == jobs.Status.QUEUED:
            break
        await asyncio.sleep(0.01)
    assert waiting is not None and waiting.status == jobs.Status.QUEUED
    assert waiting.error == f"FailEngineError: not before {until}" and waiting.retry_at is not None
    # The single slot is free meanwhile: another job runs.
    other = (await produce.enqueue(producer.JobRequest("echo", "meanwhile"))).job_id
    [done_other] = await wait_for([other], jobs.Status.SUCCEEDED)
    assert done_other is not None and done_other.result == "meanwhile"

    [state] = await wait_for([job_id], jobs.Status.SUCCEEDED)
    assert state is not None and state.result == {"until": until}
    assert state.attempts >= 2 and state.error is None and state.retry_at is None
    assert state.started_at is not None and state.started_at >= until
    assert await client.zcard(queue_keys.delayed) == 0
