"""`make up` starts a worker per sample WorkerPool: a job enqueued to a sample pool runs, and the worker is
recorded in the stack so that `down` stops it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import redis.asyncio as aioredis

from neuroedge_dev import procs, stack, workers
from neuroedge_queue import jobs, keys, producer

SAMPLES = """
kind: Tenant
metadata: {name: devsample}
spec: {namespaces: [devsample]}
---
kind: WorkerPool
metadata: {name: general, namespace: devsample}
spec: {concurrency: 2, queue: {maxDeliveries: 2, claimIdleSeconds: 5}}
"""


async def test_sample_pool_worker_runs_jobs(
    dev_services: stack.Stack, client: aioredis.Redis, tmp_path: Path
) -> None:
    (tmp_path / "samples.yaml").write_text(SAMPLES)
    planned = workers.plan(workers.load_manifests(tmp_path), {"devsample": dev_services.redis_url})
    started = workers.start(dev_services, planned, os.environ)
    assert started == ["runtime-worker-devsample-general"]
    try:
        assert workers.start(dev_services, planned, os.environ) == []  # idempotent, like `up`
        produce = producer.Producer(client, keys.QueueKeys("devsample", "general"), result_ttl=60)
        job_id = (await produce.enqueue(producer.JobRequest("echo", {"hello": "dev"}))).job_id
        for _ in range(600):
            state = await produce.get(job_id)
            if state is not None and state.status == jobs.Status.SUCCEEDED:
                break
            await asyncio.sleep(0.05)
        assert state is not None and state.result == {"hello": "dev"}
        assert state.worker == "dev-devsample-general"
    finally:
        process = stack.forget_process(dev_services, started[0])
        assert process is not None
        procs.stop(process.pid)
