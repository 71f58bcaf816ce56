"""A job that always raises goes to the dead-letter stream after maxDeliveries with its error; dead jobs are
listed and can be re-driven (a re-drive runs the job again with a fresh count of attempts)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, producer
from neuroedge_runtime.queue import deadletter

Spawn = Callable[..., subprocess.Popen[bytes]]
Wait = Callable[..., Awaitable[list[jobs.JobState | None]]]


async def test_always_failing_job_is_dead_lettered_with_its_error(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Spawn,
    wait_for: Wait,
) -> None:
    spawn_worker("w", max_deliveries=3)
    job_id = (await produce.enqueue(producer.JobRequest("fail", {"message": "boom 42"}))).job_id

    [state] = await wait_for([job_id], jobs.Status.DEAD)
    assert state is not None
    assert state.attempts == 3
    assert state.error == "FailEngineError: boom 42"
    [dead] = await deadletter.list_dead(client, queue_keys)
    assert dead.job is not None and dead.job.id == job_id and dead.job.engine == "fail"
    assert dead.error == "FailEngineError: boom 42"

    # Re-driving it runs it again, 3 more attempts, and it comes back to the dead-letter stream.
    assert await deadletter.redrive(client, queue_keys, dead.entry_id, result_ttl=600) == job_id
    with pytest.raises(deadletter.NotRedrivable):
        await deadletter.redrive(client, queue_keys, dead.entry_id, result_ttl=600)
    [state] = await wait_for([job_id], jobs.Status.DEAD)
    assert state is not None and state.attempts == 3
    [again] = await deadletter.list_dead(client, queue_keys)
    assert again.entry_id != dead.entry_id and again.job is not None and again.job.id == job_id
    assert await client.xlen(queue_keys.stream) == 0


async def test_redrive_after_the_cause_is_fixed_succeeds(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Spawn,
    wait_for: Wait,
) -> None:
    impatient = spawn_worker("impatient", max_deliveries=2, job_timeout_seconds=0.2)
    job_id = (await produce.enqueue(producer.JobRequest("sleep", {"seconds": 0.5}))).job_id
    [state] = await wait_for([job_id], jobs.Status.DEAD)
    assert state is not None and state.error == "timed out after 0.2s" and state.attempts == 2
    impatient.send_signal(signal.SIGTERM)
    assert impatient.wait(timeout=30) == 0

    spawn_worker("patient", job_timeout_seconds=10)
    [dead] = await deadletter.list_dead(client, queue_keys)
    await deadletter.redrive(client, queue_keys, dead.entry_id, result_ttl=600)
    [state] = await wait_for([job_id], jobs.Status.SUCCEEDED)
    assert state is not None
    assert state.result == {"seconds": 0.5} and state.attempts == 1 and state.worker == "patient"
    assert await deadletter.list_dead(client, queue_keys) == []


async def test_unknown_engine_is_dead_lettered_at_once(
    client: aioredis.Redis,
    queue_keys: keys.QueueKeys,
    produce: producer.Producer,
    spawn_worker: Spawn,
    wait_for: Wait,
) -> None:
    spawn_worker("w")
    job_id = (await produce.enqueue(producer.JobRequest("no-such-engine", {}))).job_id
    [state] = await wait_for([job_id], jobs.Status.DEAD)
    assert state is not None and state.error == "unknown engine 'no-such-engine'"
    assert len(await deadletter.list_dead(client, queue_keys)) == 1


async def test_undecodable_entry_is_dead_lettered_not_lost(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, spawn_worker: Spawn
) -> None:
    await client.xadd(queue_keys.stream, {"job": b'{"engine": "echo"}'})
    spawn_worker("w")
    for _ in range(200):
        dead = await deadletter.list_dead(client, queue_keys)
        if dead:
            break
        await asyncio.sleep(0.05)
    [entry] = dead
    assert entry.job is None and entry.raw == b'{"engine": "echo"}'
    assert entry.error.startswith("invalid job: id: Field required")
    with pytest.raises(deadletter.NotRedrivable):
        await deadletter.redrive(client, queue_keys, entry.entry_id, result_ttl=600)
