"""Enqueue with the same idempotency key twice (or twenty times at once): one job."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, producer

Spawn = Callable[..., subprocess.Popen[bytes]]
Wait = Callable[..., Awaitable[list[jobs.JobState | None]]]


async def test_same_idempotency_key_twice_is_one_job(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, produce: producer.Producer
) -> None:
    first = await produce.enqueue(producer.JobRequest("echo", 1, idempotency_key="order-17"))
    second = await produce.enqueue(producer.JobRequest("echo", 2, idempotency_key="order-17"))
    assert first.created and not second.created
    assert second.job_id == first.job_id
    assert await client.xlen(queue_keys.stream) == 1
    other = await produce.enqueue(producer.JobRequest("echo", 3, idempotency_key="order-18"))
    assert other.created and other.job_id != first.job_id


async def test_concurrent_enqueues_with_one_key_make_one_job(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Spawn,
    wait_for: Wait,
) -> None:
    results = await asyncio.gather(
        *(produce.enqueue(producer.JobRequest("echo", n, idempotency_key="k")) for n in range(20))
    )
    assert len({r.job_id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    spawn_worker("w")
    [state] = await wait_for([results[0].job_id], jobs.Status.SUCCEEDED)
    # After completion the key still maps to the finished job.
    again = await produce.enqueue(producer.JobRequest("echo", 99, idempotency_key="k"))
    assert again.job_id == results[0].job_id and not again.created
    assert await client.xlen(queue_keys.stream) == 0
    assert state is not None and state.attempts == 1


async def test_bad_requests_are_refused_before_anything_is_written(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, produce: producer.Producer
) -> None:
    with pytest.raises(keys.InvalidName, match="idempotency key"):
        await produce.enqueue(producer.JobRequest("echo", idempotency_key="has space"))
    with pytest.raises(jobs.JobDecodeError, match="engine"):
        await produce.enqueue(producer.JobRequest("Bad Engine"))
    with pytest.raises(producer.JobTooLarge):
        await produce.enqueue(producer.JobRequest("echo", "x" * (producer.MAX_JOB_BYTES + 1)))
    assert await client.exists(queue_keys.stream) == 0
    assert await produce.get(jobs.new_job_id()) is None
