"""Disabling a user revokes its access tokens at once, on every replica: the token is already verified and
cached by both runtimes, yet the very next request on either is a 401, because the revocation is checked in
the same Redis script call as the rate limits. Other users, and a same-id user of another tenant, are
unaffected."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, bearer, create_user, login

from neuroedge_runtime import ratelimit, respclient

Client = TestClient[Any, Any]
PASSWORD = "correct horse battery"


async def status(client: Client, tokens: dict[str, Any]) -> int:
    """401 when the token is refused; otherwise the engine lookup's 404 (authenticated, no such engine)."""
    body = {"engine": "none", "input": {}}
    resp = await client.post("/engine/predict", json=body, headers=bearer(tokens))
    assert resp.status in (401, 404), await resp.text()
    return resp.status


async def test_a_disabled_users_access_token_is_refused_at_once_on_every_replica(
    make_client: Any, make_tenant: Any
) -> None:
    replicas = [await make_client(registry_cache=True), await make_client(registry_cache=True)]
    tenant: Tenant = await make_tenant()
    admin = await login(replicas[0], tenant)
    member = await create_user(replicas[0], admin, "m@example.com", "member")
    other = await create_user(replicas[0], admin, "o@example.com", "member")
    member_tokens = await login(replicas[0], tenant, "m@example.com", PASSWORD)
    other_tokens = await login(replicas[1], tenant, "o@example.com", PASSWORD)
    for client in replicas:  # verified and cached everywhere
        assert await status(client, member_tokens) == 404
        assert await status(client, other_tokens) == 404

    resp = await replicas[1].post(f"/admin/users/{member['id']}/disable", headers=bearer(admin))
    assert resp.status == 200, await resp.text()

    for client in replicas:  # no waiting: the next request on each replica is refused
        resp = await client.post(
            "/engine/predict", json={"engine": "none", "input": {}}, headers=bearer(member_tokens)
        )
        assert resp.status == 401
        assert (await resp.json())["type"].endswith("/unauthorized")
        assert await status(client, other_tokens) == 404
        assert await status(client, admin) == 404
    refresh = await replicas[0].post("/auth/refresh", json={"refresh_token": member_tokens["refresh_token"]})
    assert refresh.status == 401
    relogin = await replicas[0].post(
        "/auth/login", json={"tenant": tenant.name, "email": "m@example.com", "password": PASSWORD}
    )
    assert relogin.status == 401
    assert other["id"] != member["id"]


async def test_revocation_is_scoped_to_the_tenant(make_client: Any, make_tenant: Any, redis_url: str) -> None:
    client = await make_client()
    first, second = await make_tenant(), await make_tenant()
    second_admin = await login(client, second)
    listed = await client.get("/admin/users", headers=bearer(second_admin))
    (user,) = (await listed.json())["users"]
    # The same user id revoked under another tenant does not touch this tenant's user.
    conn = respclient.Client(redis_url)
    try:
        await ratelimit.RateLimiter(conn).revoke(first.name, uuid.UUID(user["id"]), 60)
        assert await status(client, second_admin) == 404
        await ratelimit.RateLimiter(conn).revoke(second.name, uuid.UUID(user["id"]), 60)
        assert await status(client, second_admin) == 401
    finally:
        await conn.aclose()
