"""The lock: one holder at a time; release and extension only by the holder's token, even after expiry."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from neuroedge_queue import keys
from neuroedge_runtime.queue import lock


async def test_only_the_holder_releases_or_extends(
    client: aioredis.Redis, queue_keys: keys.QueueKeys
) -> None:
    first = lock.Lock(client, queue_keys.lock("reclaim"), ttl_ms=200)
    second = lock.Lock(client, queue_keys.lock("reclaim"), ttl_ms=5000)
    token = await first.acquire()
    assert token is not None
    assert await second.acquire() is None
    assert not await second.release("not-the-token")
    assert await first.extend(token)

    await asyncio.sleep(0.35)  # the first holder's lease runs out
    other = await second.acquire()
    assert other is not None
    assert not await first.release(token)  # an expired holder cannot delete the new holder's lock
    assert not await first.extend(token)
    assert await client.get(queue_keys.lock("reclaim")) == other.encode()
    assert await second.release(other)
    async with first.held() as mine:
        assert mine
        async with second.held() as theirs:
            assert not theirs
    assert await client.exists(queue_keys.lock("reclaim")) == 0
