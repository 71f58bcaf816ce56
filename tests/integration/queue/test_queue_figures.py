"""Queue figures (the autoscaling input): waiting, pending, delayed, dead, and the lag of the oldest job."""

from __future__ import annotations

import redis.asyncio as aioredis

from neuroedge_queue import figures, groups, keys, producer


async def test_figures_of_a_pool(
    client: aioredis.Redis, queue_keys: keys.QueueKeys, produce: producer.Producer
) -> None:
    assert await figures.read(client, queue_keys) == figures.QueueFigures(0, 0, 0, 0, 0.0)

    await produce.enqueue_many([producer.JobRequest("echo", n) for n in range(5)])
    await groups.ensure_group(client, queue_keys)
    reply = await client.xreadgroup(keys.GROUP, "c", {queue_keys.stream: ">"}, count=2)
    delivered = reply[0][1]
    await client.zadd(queue_keys.delayed, {b"job-a": 1, b"job-b": 2})
    await client.xadd(queue_keys.dlq, {"job": "{}", "error": "E"})

    oldest_waiting = figures.entry_time((await client.xrange(queue_keys.stream, count=3))[2][0])
    snapshot = await figures.read(client, queue_keys, now=oldest_waiting + 7.5)
    assert snapshot == figures.QueueFigures(waiting=3, pending=2, delayed=2, dead=1, lag_seconds=7.5)

    # Once every job was delivered, nothing waits and there is no lag.
    await client.xreadgroup(keys.GROUP, "c", {queue_keys.stream: ">"}, count=10)
    assert (await figures.read(client, queue_keys)).lag_seconds == 0.0
    assert len(delivered) == 2
