"""The worker exposes its Prometheus metrics on NEUROEDGE_METRICS_PORT."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import urllib.request
from collections.abc import Awaitable, Callable

from neuroedge_queue import jobs, producer

Spawn = Callable[..., subprocess.Popen[bytes]]
Wait = Callable[..., Awaitable[list[jobs.JobState | None]]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return resp.read().decode()


async def test_job_counters_and_durations_by_engine(
    produce: producer.Producer, spawn_worker: Spawn, wait_for: Wait
) -> None:
    port = _free_port()
    spawn_worker("w", metrics_port=port, max_deliveries=2)
    ok = [e.job_id for e in await produce.enqueue_many([producer.JobRequest("echo", n) for n in range(3)])]
    bad = (await produce.enqueue(producer.JobRequest("fail", {"message": "no"}))).job_id
    await wait_for(ok, jobs.Status.SUCCEEDED)
    await wait_for([bad], jobs.Status.DEAD)

    text = await asyncio.to_thread(_scrape, port)
    assert 'neuroedge_jobs_started_total{engine="echo"} 3.0' in text
    assert 'neuroedge_jobs_succeeded_total{engine="echo"} 3.0' in text
    assert 'neuroedge_jobs_failed_total{engine="fail"} 2.0' in text
    assert 'neuroedge_jobs_retried_total{engine="fail"} 1.0' in text
    assert 'neuroedge_jobs_dead_lettered_total{engine="fail"} 1.0' in text
    assert 'neuroedge_job_duration_seconds_count{engine="echo",outcome="succeeded"} 3.0' in text
    assert "neuroedge_queue_lag_seconds" in text
