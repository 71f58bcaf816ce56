"""10,000 jobs across 3 worker processes: every job completes exactly once from the caller's point of view,
with its own result, and nothing is left in the stream, pending, delayed or dead."""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, producer

JOBS = 10_000


async def test_ten_thousand_jobs_three_workers(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Callable[..., subprocess.Popen[bytes]],
    wait_for: Callable[..., Awaitable[list[jobs.JobState | None]]],
) -> None:
    workers = [spawn_worker(f"w{i}", concurrency=64) for i in range(3)]
    requests = [producer.JobRequest("echo", {"n": n, "word": f"job-{n}"}) for n in range(JOBS)]
    enqueued = []
    for start in range(0, JOBS, 1000):
        enqueued += await produce.enqueue_many(requests[start : start + 1000])
    ids = [e.job_id for e in enqueued]
    assert len(set(ids)) == JOBS and all(e.created for e in enqueued)

    states = await wait_for(ids, jobs.Status.SUCCEEDED, timeout=120)

    for n, state in enumerate(states):
        assert state is not None
        assert state.result == {"n": n, "word": f"job-{n}"}
        assert state.error is None
    # The work was shared: every worker ran jobs.
    assert {s.worker for s in states if s is not None} == {"w0", "w1", "w2"}
    # Nothing left behind: entries are acknowledged and deleted once their result is stored.
    assert await client.xlen(queue_keys.stream) == 0
    assert (await client.xpending(queue_keys.stream, keys.GROUP))["pending"] == 0
    assert await client.zcard(queue_keys.delayed) == 0
    assert await client.exists(queue_keys.dlq) == 0
    assert all(w.poll() is None for w in workers)
