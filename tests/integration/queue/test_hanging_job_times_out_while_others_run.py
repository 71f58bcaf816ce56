"""A job that hangs is timed out and retried, then dead-lettered; meanwhile the worker serves others."""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable

from neuroedge_queue import jobs, keys, producer

Spawn = Callable[..., subprocess.Popen[bytes]]
Wait = Callable[..., Awaitable[list[jobs.JobState | None]]]


async def test_hanging_job_is_timed_out_and_retried_while_others_complete(
    queue_keys: keys.QueueKeys, produce: producer.Producer, spawn_worker: Spawn, wait_for: Wait
) -> None:
    worker = spawn_worker("w", concurrency=2, job_timeout_seconds=1.5, max_deliveries=2)
    hang = (await produce.enqueue(producer.JobRequest("sleep", {"seconds": 3600}))).job_id
    await wait_for([hang], jobs.Status.RUNNING)

    quick = [
        e.job_id for e in await produce.enqueue_many([producer.JobRequest("echo", n) for n in range(50)])
    ]
    states = await wait_for(quick, jobs.Status.SUCCEEDED)
    assert [s.result for s in states if s] == list(range(50))
    # All of them finished while the hanging job was still on its first attempt.
    hanging = await produce.get(hang)
    assert hanging is not None and hanging.status == jobs.Status.RUNNING and hanging.attempts == 1

    [state] = await wait_for([hang], jobs.Status.DEAD)
    assert state is not None
    assert state.error == "timed out after 1.5s"
    assert state.attempts == 2
    assert worker.poll() is None  # still serving
    last = (await produce.enqueue(producer.JobRequest("echo", "after"))).job_id
    [after] = await wait_for([last], jobs.Status.SUCCEEDED)
    assert after is not None and after.result == "after"
