"""Registry rows cached in process stay exact: PostgreSQL notifies every replica of each committed change
to `tenants`, `engines` and `vector_indexes`, so an Engine's new config, an index's new dimension, a deletion
or a suspension takes effect within 1 s on every replica, also across a dropped notification connection;
the cache really serves (no database read per request once warm), so these tests do not pass merely by
reading the database every time; and a cached row of one tenant is never another tenant's answer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, add_engine, add_index, bearer, login

from neuroedge_runtime import keys

Client = TestClient[Any, Any]
FEED_APPLICATION = "neuroedge-runtime-registry-feed"
WITHIN_SECONDS = 1.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Poll `check` until it holds; fail when it does not within WITHIN_SECONDS. Returns the time taken."""
    started = time.monotonic()
    while True:
        if await check():
            return time.monotonic() - started
        if time.monotonic() - started > WITHIN_SECONDS:
            pytest.fail(f"{what}: not within {WITHIN_SECONDS}s")
        await asyncio.sleep(0.02)


@pytest.fixture
async def replicas(make_client: Any) -> list[Client]:
    """Two runtime processes' apps with the registry cache on (the production default), feeds listening."""
    apps = [await make_client(registry_cache=True, credentials_check_seconds=0.5) for _ in range(2)]
    for app in apps:
        assert await app.server.app[keys.REGISTRY_FEED].wait_live(5)
    return apps


async def score(client: Client, token: dict[str, Any]) -> tuple[int, float | None]:
    resp = await client.post(
        "/engine/predict",
        json={"engine": "churn", "input": {"features": {"x": 1}}},
        headers=bearer(token),
    )
    body = await resp.json()
    return resp.status, body.get("result", {}).get("score") if resp.status == 200 else None


def lookups(client: Client, table: str, source: str) -> float:
    for family in client.server.app[keys.METRICS].registry.collect():
        for sample in family.samples:
            if sample.name == "neuroedge_registry_lookups_total" and sample.labels == {
                "table": table,
                "source": source,
            }:
                return float(sample.value)
    return 0.0


def linear(bias: float) -> str:
    return json.dumps({"model": "linear", "weights": {"x": 1.0}, "bias": bias})


@pytest.fixture
async def tenant_with_engine(make_tenant: Any, admin_pool: asyncpg.Pool) -> Tenant:
    tenant: Tenant = await make_tenant()
    await add_engine(admin_pool, tenant.name, "churn", "predictive", json.loads(linear(0.0)))
    return tenant


async def test_a_warm_cache_answers_without_reading_the_database(
    replicas: list[Client], tenant_with_engine: Tenant
) -> None:
    client = replicas[0]
    token = await login(client, tenant_with_engine)
    assert await score(client, token) == (200, 1.0)
    reads_before = lookups(client, "engines", "database"), lookups(client, "tenants", "database")
    for _ in range(20):
        assert await score(client, token) == (200, 1.0)
    assert (lookups(client, "engines", "database"), lookups(client, "tenants", "database")) == reads_before
    assert lookups(client, "engines", "cache") >= 20


async def test_a_cached_engine_is_never_another_tenants(
    replicas: list[Client], tenant_with_engine: Tenant, make_tenant: Any
) -> None:
    client = replicas[0]
    owner = await login(client, tenant_with_engine)
    assert await score(client, owner) == (200, 1.0)  # cached now, under the owner's tenant
    other = await login(client, await make_tenant())
    assert await score(client, other) == (404, None)
    assert await score(client, owner) == (200, 1.0)


async def test_engine_changes_reach_every_replica_within_a_second(
    replicas: list[Client], tenant_with_engine: Tenant, admin_pool: asyncpg.Pool
) -> None:
    token = await login(replicas[0], tenant_with_engine)
    for client in replicas:  # warm both caches
        assert await score(client, token) == (200, 1.0)
    update = "UPDATE neuroedge.engines SET config = $3::jsonb WHERE tenant_id = $1 AND name = $2"
    await admin_pool.execute(update, tenant_with_engine.name, "churn", linear(4.0))
    for client in replicas:
        await eventually(lambda c=client: _is(c, token, (200, 5.0)), "new engine config")
    await admin_pool.execute(
        "DELETE FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2", tenant_with_engine.name, "churn"
    )
    for client in replicas:
        await eventually(lambda c=client: _is(c, token, (404, None)), "engine deletion")
    await add_engine(admin_pool, tenant_with_engine.name, "churn", "predictive", json.loads(linear(1.0)))
    for client in replicas:  # the absent row was cached too, and is dropped on insert
        await eventually(lambda c=client: _is(c, token, (200, 2.0)), "engine re-creation")


async def test_suspension_reaches_every_replica_within_a_second(
    replicas: list[Client], tenant_with_engine: Tenant, admin_pool: asyncpg.Pool
) -> None:
    token = await login(replicas[0], tenant_with_engine)
    for client in replicas:
        assert await score(client, token) == (200, 1.0)
    suspend = "UPDATE neuroedge.tenants SET suspended = $2 WHERE tenant_id = $1"
    await admin_pool.execute(suspend, tenant_with_engine.name, True)
    for client in replicas:
        await eventually(lambda c=client: _is(c, token, (401, None)), "suspension")
    await admin_pool.execute(suspend, tenant_with_engine.name, False)
    for client in replicas:
        await eventually(lambda c=client: _is(c, token, (200, 1.0)), "unsuspension")


async def test_a_dropped_notification_connection_falls_back_to_reading_and_recovers(
    replicas: list[Client], tenant_with_engine: Tenant, admin_pool: asyncpg.Pool
) -> None:
    token = await login(replicas[0], tenant_with_engine)
    for client in replicas:
        assert await score(client, token) == (200, 1.0)
    killed = await admin_pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
        FEED_APPLICATION,
    )
    assert killed >= len(replicas)
    update = "UPDATE neuroedge.engines SET config = $3::jsonb WHERE tenant_id = $1 AND name = $2"
    await admin_pool.execute(update, tenant_with_engine.name, "churn", linear(2.0))
    for client in replicas:  # while the feed is down (or just back), answers come from the database
        await eventually(lambda c=client: _is(c, token, (200, 3.0)), "change while the feed was down")
    for client in replicas:
        assert await client.server.app[keys.REGISTRY_FEED].wait_live(5), "the feed did not reconnect"
    await admin_pool.execute(update, tenant_with_engine.name, "churn", linear(6.0))
    for client in replicas:
        await eventually(lambda c=client: _is(c, token, (200, 7.0)), "change after reconnection")
    reads = lookups(replicas[0], "engines", "database")
    for _ in range(5):
        await score(replicas[0], token)
    assert lookups(replicas[0], "engines", "database") <= reads + 1  # caching again after the reconnect


async def test_a_rotated_signing_key_takes_effect_within_a_second(
    replicas: list[Client], tenant_with_engine: Tenant, credentials_dir: Any
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: PLC0415
    from runtime_helpers import write_credentials  # noqa: PLC0415

    old_token = await login(replicas[0], tenant_with_engine)
    for client in replicas:
        assert await score(client, old_token) == (200, 1.0)
    # Rotation without grace: the old key is dropped, so tokens it signed must stop working everywhere.
    kid = f"{tenant_with_engine.name}-k2"
    rotated = Tenant(
        tenant_with_engine.name,
        tenant_with_engine.admin_email,
        tenant_with_engine.admin_password,
        {kid: ed25519.Ed25519PrivateKey.generate()},
        kid,
    )
    write_credentials(credentials_dir, rotated)
    for client in replicas:
        await eventually(lambda c=client: _is(c, old_token, (401, None)), "old key refused")
    new_token = await login(replicas[1], rotated)
    for client in replicas:
        await eventually(lambda c=client: _is(c, new_token, (200, 1.0)), "new key accepted")


async def search(client: Client, token: dict[str, Any], vector: list[float]) -> int:
    resp = await client.post(
        "/vector/search", json={"index": "docs", "vector": vector, "top_k": 3}, headers=bearer(token)
    )
    return resp.status


async def test_vector_indexes_are_cached_per_tenant_and_changes_reach_every_replica(
    replicas: list[Client], make_tenant: Any, admin_pool: asyncpg.Pool
) -> None:
    owner: Tenant = await make_tenant()
    other: Tenant = await make_tenant()
    await add_index(admin_pool, owner.name, "docs", "pgvector", 3)
    token, other_token = await login(replicas[0], owner), await login(replicas[0], other)
    for client in replicas:
        assert await search(client, token, [1.0, 0.0, 0.0]) == 200
    client = replicas[0]
    reads = lookups(client, "vector_indexes", "database")
    for _ in range(10):
        assert await search(client, token, [1.0, 0.0, 0.0]) == 200
    assert lookups(client, "vector_indexes", "database") == reads  # warm: no registry read per search
    assert await search(client, other_token, [1.0, 0.0, 0.0]) == 404  # the owner's cached row is not its
    await admin_pool.execute(
        "UPDATE neuroedge.vector_indexes SET dimension = 4 WHERE tenant_id = $1 AND name = 'docs'", owner.name
    )
    for replica in replicas:  # the cached dimension 3 is dropped: a 3-component vector is now refused
        await eventually(
            lambda c=replica: _equals(search(c, token, [1.0, 0.0, 0.0]), 422), "new index dimension"
        )
    await admin_pool.execute(
        "DELETE FROM neuroedge.vector_indexes WHERE tenant_id = $1 AND name = 'docs'", owner.name
    )
    for replica in replicas:
        await eventually(
            lambda c=replica: _equals(search(c, token, [1.0, 0.0, 0.0, 0.0]), 404), "index deletion"
        )


async def _equals(status: Awaitable[int], expected: int) -> bool:
    return await status == expected


async def _is(client: Client, token: dict[str, Any], expected: tuple[int, float | None]) -> bool:
    return await score(client, token) == expected
