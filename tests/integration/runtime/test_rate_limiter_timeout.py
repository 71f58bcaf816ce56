"""The rate limiter's Redis client has no per-operation socket timeout (it cost a task and two timers per
request); one bound around the whole check replaces it. A Redis that accepts and never answers must still
be refused within that bound, as an unreachable dependency (503), not hang the request; the connection is
then dropped, so a Redis that comes back is used again."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.exceptions

from neuroedge_runtime import ratelimit, respclient
from neuroedge_runtime.tenancy.registry import TenantInfo

INFO = TenantInfo("acme", False, 900, 86_400, 100.0, 100, 10.0, 10)


async def test_a_silent_redis_fails_the_check_within_its_bound() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()  # accept, read, never answer

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = respclient.Client(f"redis://127.0.0.1:{port}/0")
    limiter = ratelimit.RateLimiter(client, timeout_seconds=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(
            redis.exceptions.ConnectionError, match=r"did not answer the rate limiter within 0\.3s"
        ):
            await limiter.check(INFO, uuid.uuid4(), int(time.time()))
        assert time.monotonic() - started < 5
        with pytest.raises(redis.exceptions.ConnectionError):
            await limiter.check(INFO, uuid.uuid4(), int(time.time()))
        assert len(connections) == 2  # the silent connection was dropped, the second check opened another
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
