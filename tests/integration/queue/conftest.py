"""Fixtures for the queue's real-Redis tests: a client, a fresh pool per test, and worker processes started
as `neuroedge runtime worker` with the test engines enabled (stopped, or killed, at teardown)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, producer

NEUROEDGE_RUNTIME = Path(sys.executable).parent / "neuroedge-runtime"
_pools = itertools.count()

SpawnWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis_client = aioredis.Redis.from_url(redis_url)
    yield redis_client
    await redis_client.aclose()


@pytest.fixture
def queue_keys(request: pytest.FixtureRequest) -> keys.QueueKeys:
    """A pool of its own for each test, so tests never see each other's jobs."""
    return keys.QueueKeys("qtest", f"p{os.getpid()}-{next(_pools)}")


@pytest.fixture
def produce(client: aioredis.Redis, queue_keys: keys.QueueKeys) -> producer.Producer:
    return producer.Producer(client, queue_keys, result_ttl=600)


@pytest.fixture
def spawn_worker(redis_url: str, queue_keys: keys.QueueKeys, tmp_path: Path) -> Iterator[SpawnWorker]:
    """`spawn_worker(consumer, **settings)` starts a worker process of this test's pool."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(consumer: str, **settings: str | int | float) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "NEUROEDGE_TENANT": queue_keys.tenant,
            "NEUROEDGE_POOL": queue_keys.pool,
            "NEUROEDGE_CONSUMER": consumer,
            "NEUROEDGE_TEST_ENGINES": "1",
            "NEUROEDGE_METRICS_PORT": "0",
            "NEUROEDGE_RETRY_BASE_SECONDS": "0.05",
            "NEUROEDGE_RETRY_CAP_SECONDS": "0.2",
        }
        env.update({f"NEUROEDGE_{name.upper()}": str(value) for name, value in settings.items()})
        log = (tmp_path / f"{consumer}.log").open("ab")
        proc = subprocess.Popen([str(NEUROEDGE_RUNTIME), "worker"], env=env, stdout=log, stderr=log)
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGUSR1)  # its tasks' stacks go to its log, for a failed test's report
            time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)


WaitFor = Callable[..., Awaitable[list[jobs.JobState | None]]]


@pytest.fixture
def wait_for(produce: producer.Producer) -> WaitFor:
    """`await wait_for(job_ids, *statuses, timeout=60)`: poll until every job has one of `statuses`."""

    async def wait(
        job_ids: list[str], *statuses: jobs.Status, timeout: float = 60.0
    ) -> list[jobs.JobState | None]:
        return await _wait(produce, job_ids, lambda s: s is not None and s.status in statuses, timeout)

    return wait


async def _wait(
    produce: producer.Producer,
    job_ids: list[str],
    done: Callable[[jobs.JobState | None], bool],
    timeout: float,
) -> list[jobs.JobState | None]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        states = [s for chunk in _chunks(job_ids, 2000) for s in await produce.get_many(chunk)]
        if all(done(state) for state in states):
            return states
        if loop.time() > deadline:
            stuck = [s for s in states if not done(s)][:3]
            pytest.fail(f"{sum(not done(s) for s in states)} jobs not done after {timeout}s, e.g. {stuck}")
        await asyncio.sleep(0.05)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
