"""The rate limiter's pipelining Redis client against the real Redis: concurrent calls travel together on one
connection yet each gets the reply to its own command; the limits and the revocation decide exactly as one
call at a time would; a script Redis forgot (SCRIPT FLUSH) is sent again; a connection Redis killed fails
the calls it owed and the next call reconnects; a wrong password is a connection error, not a hang."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.exceptions
import uvloop
from redis.asyncio import Redis

from neuroedge_runtime import ratelimit, respclient
from neuroedge_runtime.tenancy.registry import TenantInfo


async def test_concurrent_calls_get_their_own_replies(redis_url: str) -> None:
    client = respclient.Client(redis_url)
    try:
        key = f"ne:test:{uuid.uuid4()}"
        replies = await asyncio.gather(*(client.execute("INCRBY", key, 1) for _ in range(500)))
        assert sorted(replies) == list(range(1, 501))
        echoes = await asyncio.gather(*(client.execute("ECHO", f"call-{i}") for i in range(300)))
        assert echoes == [f"call-{i}".encode() for i in range(300)]
        with pytest.raises(redis.exceptions.ResponseError, match="unknown command"):
            await client.execute("NO-SUCH-COMMAND")
        assert await client.execute("PING") == b"PONG"  # an error reply does not shift the others
    finally:
        await client.aclose()


async def test_concurrent_checks_decide_exactly_as_the_limits_say(redis_url: str) -> None:
    client = respclient.Client(redis_url)
    limiter = ratelimit.RateLimiter(client, timeout_seconds=5)
    tenant = f"t{uuid.uuid4().hex[:8]}"
    info = TenantInfo(tenant, False, 900, 86_400, 0.001, 40, 0.001, 25)  # no refill during the test
    users = [uuid.uuid4(), uuid.uuid4()]
    try:
        await client.execute("SCRIPT", "FLUSH")  # the first check finds no script and sends it
        decisions = await asyncio.gather(
            *(limiter.check(info, users[i % 2], int(time.time())) for i in range(100))
        )
        allowed = [d for d in decisions if d.allowed]
        assert len(allowed) == 40  # the tenant's burst, whatever the interleaving
        assert min(d.remaining for d in allowed) == 0
        per_user = [sum(1 for i, d in enumerate(decisions) if d.allowed and i % 2 == u) for u in (0, 1)]
        assert all(n <= 25 for n in per_user)
        assert {d.scope for d in decisions if not d.allowed} <= {"tenant", "user"}
        await limiter.revoke(tenant, users[0], 60)
        with pytest.raises(ratelimit.RevokedError):
            await limiter.check(info, users[0], int(time.time()) - 1)
    finally:
        await client.aclose()


async def test_a_killed_connection_fails_its_calls_and_the_next_call_reconnects(redis_url: str) -> None:
    client = respclient.Client(redis_url)
    admin = Redis.from_url(redis_url)
    try:
        own_id = await client.execute("CLIENT", "ID")
        blocked = asyncio.ensure_future(client.execute("BLPOP", f"ne:test:{uuid.uuid4()}", 10))
        await asyncio.sleep(0.2)
        await admin.client_kill_filter(_id=own_id)
        with pytest.raises(redis.exceptions.ConnectionError):
            await blocked
        assert await client.execute("PING") == b"PONG"
        assert await client.execute("CLIENT", "ID") != own_id
    finally:
        await client.aclose()
        await admin.aclose()


async def test_a_wrong_password_is_a_connection_error(redis_url: str) -> None:
    parts = urlsplit(redis_url)
    wrong = urlunsplit(parts._replace(netloc=f"default:wrong@{parts.hostname}:{parts.port}"))
    client = respclient.Client(wrong, connect_timeout=5)
    try:
        with pytest.raises(redis.exceptions.ConnectionError, match="cannot connect to Redis"):
            await client.execute("PING")
    finally:
        await client.aclose()


def test_the_client_works_on_uvloop(redis_url: str) -> None:
    """The API's own event loop (uvloop), whose transports are not asyncio.Transport subclasses."""

    async def calls() -> list[Any]:
        client = respclient.Client(redis_url)
        try:
            return list(await asyncio.gather(*(client.execute("ECHO", str(i)) for i in range(50))))
        finally:
            await client.aclose()

    assert uvloop.run(calls()) == [str(i).encode() for i in range(50)]
