"""Redis ACL isolation between tenants, tried with tenant A's credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from neuroedge_operator.builders import redis_acl
from neuroedge_operator.clients import redis as redis_client


def tenant_url(admin_url: str, tenant: str, password: str) -> str:
    parts = urlsplit(admin_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{redis_acl.user_name(tenant)}:{password}@{host}"))


@pytest.fixture
async def cache(redis_url: str) -> AsyncIterator[redis_client.Cache]:
    handle = redis_client.Cache(redis_url)
    yield handle
    await handle.close()


@pytest.fixture
async def tenant_a(cache: redis_client.Cache, redis_url: str) -> AsyncIterator[aioredis.Redis]:
    await cache.ensure("racl-a", "pw-a", enabled=True)
    await cache.ensure("racl-b", "pw-b", enabled=True)
    admin = aioredis.Redis.from_url(redis_url)
    await admin.set("ne:racl-b:secret", "b-data")
    await admin.aclose()
    client = aioredis.Redis.from_url(tenant_url(redis_url, "racl-a", "pw-a"), decode_responses=True)
    yield client
    await client.aclose()


async def test_tenant_uses_its_own_prefix(tenant_a: aioredis.Redis) -> None:
    await tenant_a.set("ne:racl-a:k", "v")
    assert await tenant_a.get("ne:racl-a:k") == "v"


@pytest.mark.parametrize(
    "command",
    [
        ("GET", "ne:racl-b:secret"),
        ("SET", "ne:racl-b:secret", "stolen"),
        ("DEL", "ne:racl-b:secret"),
        ("RENAME", "ne:racl-a:k", "ne:racl-b:k"),
        ("PUBLISH", "ne:racl-b:events", "x"),
        ("KEYS", "*"),
        ("SCAN", "0"),
        ("RANDOMKEY",),
        ("FLUSHALL",),
        ("CONFIG", "GET", "requirepass"),
        ("ACL", "LIST"),
        ("SELECT", "1"),
        ("EVAL", "return redis.call('GET', 'ne:racl-b:secret')", "0"),
    ],
)
async def test_tenant_cannot_touch_other_tenants_or_the_server(
    tenant_a: aioredis.Redis, command: tuple[str, ...]
) -> None:
    with pytest.raises(redis.exceptions.ResponseError, match=r"(?i)no permissions|can't access"):
        await tenant_a.execute_command(*command)


async def test_second_ensure_writes_nothing_and_drift_is_repaired(
    cache: redis_client.Cache, redis_url: str
) -> None:
    assert await cache.ensure("racl-c", "pw", enabled=True) is True
    assert await cache.ensure("racl-c", "pw", enabled=True) is False
    admin = aioredis.Redis.from_url(redis_url)
    await admin.execute_command("ACL", "SETUSER", "ne-tenant-racl-c", "+flushall", "~*")
    await admin.aclose()
    assert await cache.ensure("racl-c", "pw", enabled=True) is True
    assert await cache.ensure("racl-c", "pw", enabled=True) is False


async def test_disabled_user_cannot_authenticate(cache: redis_client.Cache, redis_url: str) -> None:
    await cache.ensure("racl-d", "pw", enabled=True)
    await cache.ensure("racl-d", "pw", enabled=False)
    client = aioredis.Redis.from_url(tenant_url(redis_url, "racl-d", "pw"))
    with pytest.raises(redis.exceptions.AuthenticationError):
        await client.ping()
    await client.aclose()
    assert await cache.delete("racl-d") is True
    assert await cache.observe("racl-d") is None
