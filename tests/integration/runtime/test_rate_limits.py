"""Rate limits from the tenant registry, enforced atomically in Redis: bursts beyond the limit get 429s in the
expected proportion, per user as well as per tenant, and other tenants are unaffected."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, bearer, create_user, login

Client = TestClient[Any, Any]


async def burst(client: Client, tokens: dict[str, Any], n: int) -> list[Any]:
    return list(await asyncio.gather(*(client.get("/admin/users", headers=bearer(tokens)) for _ in range(n))))


async def test_a_burst_beyond_the_tenant_limit_gets_429s(client: Client, make_tenant: Any) -> None:
    limited: Tenant = await make_tenant("rl", rate_limit_rps=1.0, rate_limit_burst=10)
    other: Tenant = await make_tenant("free", rate_limit_rps=1.0, rate_limit_burst=10)
    tokens, other_tokens = await login(client, limited), await login(client, other)
    started = time.monotonic()
    responses = await burst(client, tokens, 40)
    elapsed = time.monotonic() - started
    ok = [r for r in responses if r.status == 200]
    rejected = [r for r in responses if r.status == 429]
    assert len(ok) + len(rejected) == 40
    # GCRA: the burst, plus one more per second (1 rps) that passed during the burst.
    assert 10 <= len(ok) <= 10 + math.ceil(elapsed) + 1
    problem = await rejected[0].json()
    assert rejected[0].content_type == "application/problem+json" and problem["type"].endswith(
        "/rate-limited"
    )
    assert int(rejected[0].headers["Retry-After"]) >= 1
    assert rejected[0].headers["RateLimit-Remaining"] == "0"
    assert rejected[0].headers["RateLimit-Limit"] == "10"
    assert int(ok[0].headers["RateLimit-Remaining"]) >= 0
    # The other tenant, with the same limits, is untouched by the first tenant's burst.
    assert [r.status for r in await burst(client, other_tokens, 10)] == [200] * 10
    metrics = await (await client.get("/metrics")).text()
    assert 'neuroedge_rate_limit_rejections_total{scope="tenant"}' in metrics


async def test_the_per_user_limit_leaves_other_users_of_the_tenant_alone(
    client: Client, make_tenant: Any
) -> None:
    tenant: Tenant = await make_tenant(
        "ru", rate_limit_burst=100, user_rate_limit_rps=0.5, user_rate_limit_burst=4
    )
    admin = await login(client, tenant)
    await create_user(client, admin, "second@example.com", "admin")
    second = await login(client, tenant, "second@example.com", "correct horse battery")
    statuses = [r.status for r in await burst(client, admin, 12)]
    # Burst 4, one of which create_user used, plus one every 2 s that passes during the burst.
    assert 3 <= statuses.count(200) <= 5 and statuses.count(429) >= 7
    rejected = next(r for r in await burst(client, admin, 1) if r.status == 429)
    assert "user rate limit" in (await rejected.json())["detail"]
    assert [r.status for r in await burst(client, second, 4)] == [200] * 4


async def test_rejected_requests_do_not_consume_other_scopes(client: Client, make_tenant: Any) -> None:
    # The user limit rejects most of this user's requests; the tenant allowance must stay for others.
    tenant: Tenant = await make_tenant("rs", rate_limit_rps=0.1, rate_limit_burst=8, user_rate_limit_burst=2)
    admin = await login(client, tenant)
    await create_user(client, admin, "second@example.com", "admin")
    second = await login(client, tenant, "second@example.com", "correct horse battery")
    await burst(client, admin, 1)  # the create_user above used one of the admin's two
    statuses = [r.status for r in await burst(client, admin, 20)]
    assert statuses.count(200) <= 1
    assert [r.status for r in await burst(client, second, 2)] == [200, 200]
