"""Settling is idempotent: once a job is final, a late duplicate outcome (at-least-once delivery) only
acknowledges its entry and never overwrites the first result; a result is stored before its entry is
acknowledged, in one script."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from neuroedge_queue import groups, jobs, keys, producer
from neuroedge_runtime.queue import reclaim, settle


async def _deliver(client: aioredis.Redis, queue_keys: keys.QueueKeys, count: int) -> list[str]:
    await groups.ensure_group(client, queue_keys)
    reply = await client.xreadgroup(keys.GROUP, "c", {queue_keys.stream: ">"}, count=count)
    return [entry_id.decode() for entry_id, _ in reply[0][1]]


async def test_a_late_duplicate_never_overwrites_the_first_outcome(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, produce: producer.Producer
) -> None:
    job_id = (await produce.enqueue(producer.JobRequest("echo", 1))).job_id
    await client.xadd(queue_keys.stream, {"job": b"duplicate delivery of the same job"})
    first, second = await _deliver(client, queue_keys, 2)

    ops = [
        settle.start(job_id, 1, "a", 10.0),
        settle.succeed(job_id, first, b'"first"', 11.0),
        settle.start(job_id, 2, "b", 12.0),  # the duplicate starts after the job succeeded
        settle.retry_later(job_id, second, "E: late failure", 99.0, b"{}"),
        settle.dead(job_id, second, "E: late death", 13.0, b"{}"),
    ]
    call_keys, args = settle.script_call(queue_keys, 60_000, ops)
    await settle.SETTLE(client, call_keys, args)

    state = await produce.get(job_id)
    assert state is not None
    assert (state.status, state.result, state.worker, state.attempts) == (
        jobs.Status.SUCCEEDED,
        "first",
        "a",
        1,
    )
    assert state.error is None
    # Both entries are acknowledged and gone; nothing was scheduled or dead-lettered by the duplicate.
    assert (await client.xpending(queue_keys.stream, keys.GROUP))["pending"] == 0
    assert await client.xlen(queue_keys.stream) == 0
    assert await client.zcard(queue_keys.delayed) == 0
    assert await client.exists(queue_keys.dlq) == 0
    assert 0 < await client.pttl(queue_keys.job(job_id)) <= 60_000


async def test_a_retry_is_scheduled_and_acknowledged_together(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, produce: producer.Producer
) -> None:
    job_id = (await produce.enqueue(producer.JobRequest("echo", 1))).job_id
    [entry] = await _deliver(client, queue_keys, 1)
    call_keys, args = settle.script_call(
        queue_keys, 60_000, [settle.retry_later(job_id, entry, "E: once", 2_000_000_000.5, b"payload")]
    )
    await settle.SETTLE(client, call_keys, args)
    state = await produce.get(job_id)
    assert state is not None and state.status == jobs.Status.QUEUED
    assert state.error == "E: once" and state.retry_at == 2_000_000_000.5
    assert await client.zrange(queue_keys.delayed, 0, -1, withscores=True) == [
        (b"payload", 2_000_000_000_500.0)
    ]
    assert (await client.xpending(queue_keys.stream, keys.GROUP))["pending"] == 0


async def test_pruning_forgets_only_consumers_with_nothing_pending(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, produce: producer.Producer
) -> None:
    await produce.enqueue(producer.JobRequest("echo", 1))
    await groups.ensure_group(client, queue_keys)
    await client.xreadgroup(keys.GROUP, "holds-a-job", {queue_keys.stream: ">"}, count=1)
    await client.xgroup_createconsumer(queue_keys.stream, keys.GROUP, "empty-handed")
    assert {c["name"] for c in await client.xinfo_consumers(queue_keys.stream, keys.GROUP)} == {
        b"holds-a-job",
        b"empty-handed",
    }
    await asyncio.sleep(0.01)
    assert await reclaim.PRUNE(client, [queue_keys.stream], [keys.GROUP, 0]) == 1
    assert [c["name"] for c in await client.xinfo_consumers(queue_keys.stream, keys.GROUP)] == [
        b"holds-a-job"
    ]
    assert await reclaim.PRUNE(client, [queue_keys.stream], [keys.GROUP, 60_000]) == 0
