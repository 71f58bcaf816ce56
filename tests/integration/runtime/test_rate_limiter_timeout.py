"""The rate limiter's Redis client has no per-operation socket timeout (it cost a task and two timers per
request); one bound around the whole check replaces it. A Redis that accepts and never answers must still
be refused within that bound, as an unreachable dependency (503), not hang the request."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as redis

from neuroedge_runtime import ratelimit
from neuroedge_runtime.tenancy.registry import TenantInfo

INFO = TenantInfo("acme", False, 900, 86_400, 100.0, 100, 10.0, 10)


async def test_a_silent_redis_fails_the_check_within_its_bound() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, read, never answer

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=None, socket_connect_timeout=5)
    limiter = ratelimit.RateLimiter(client, timeout_seconds=0.3)
    try:
        with pytest.raises(redis.ConnectionError, match=r"did not answer the rate limiter within 0\.3s"):
            await limiter.check(INFO, uuid.uuid4(), int(time.time()))
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
