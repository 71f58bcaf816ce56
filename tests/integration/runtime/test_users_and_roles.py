"""User administration and role checks: admin-only routes, pagination, disabling ends sessions."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, bearer, create_user, login

Client = TestClient[Any, Any]


async def test_admin_creates_users_and_they_can_log_in(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    admin = await login(client, tenant)
    user = await create_user(client, admin, "Member@Example.com", "member")
    assert user["role"] == "member" and user["disabled"] is False and "password_hash" not in user
    tokens = await login(
        client, tenant, "member@example.com", "correct horse battery"
    )  # email case-insensitive
    assert tokens["access_token"]


async def test_duplicate_email_is_a_conflict(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    admin = await login(client, tenant)
    await create_user(client, admin, "dup@example.com", "viewer")
    resp = await client.post(
        "/admin/users",
        json={"email": "DUP@example.com", "password": "long enough!", "role": "member"},
        headers=bearer(admin),
    )
    assert resp.status == 409 and resp.content_type == "application/problem+json"


async def test_invalid_user_bodies_are_422_naming_the_field(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    admin = await login(client, tenant)
    for body, field in [
        ({"email": "no-at-sign", "password": "long enough!"}, "email"),
        ({"email": "a@b.c", "password": "short"}, "password"),
        ({"email": "a@b.c", "password": "long enough!", "role": "root"}, "role"),
        ({"email": "a@b.c", "password": "long enough!", "extra": 1}, "extra"),
    ]:
        resp = await client.post("/admin/users", json=body, headers=bearer(admin))
        assert resp.status == 422
        problem = await resp.json()
        assert problem["type"].endswith("/invalid-request")
        assert [e["loc"] for e in problem["errors"]] == [[field]]


async def test_only_admins_reach_admin_routes(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    admin = await login(client, tenant)
    for role in ("member", "viewer"):
        await create_user(client, admin, f"{role}@example.com", role)
        tokens = await login(client, tenant, f"{role}@example.com", "correct horse battery")
        assert (await client.get("/admin/users", headers=bearer(tokens))).status == 403
        resp = await client.post(
            "/admin/users",
            json={"email": f"x-{role}@example.com", "password": "long enough!", "role": "admin"},
            headers=bearer(tokens),
        )
        assert resp.status == 403
        assert (await resp.json())["type"].endswith("/forbidden")
    assert (await client.get("/admin/users")).status == 401


async def test_listing_paginates_with_a_cursor(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    admin = await login(client, tenant)
    for i in range(6):
        await create_user(client, admin, f"u{i}@example.com", "viewer")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/admin/users", params=params, headers=bearer(admin))).json()
        seen += [u["id"] for u in page["users"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 7 and len(set(seen)) == 7 and seen == sorted(seen)
    for bad in ({"limit": "0"}, {"limit": "1000"}, {"cursor": "nope"}, {"limit": "x"}):
        assert (await client.get("/admin/users", params=bad, headers=bearer(admin))).status == 422
    # Found by the OpenAPI fuzzer: a repeated parameter was reduced to its first value and accepted.
    resp = await client.get("/admin/users", params=[("limit", "2"), ("limit", "true")], headers=bearer(admin))
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    assert "limit given more than once" in (await resp.json())["detail"]


async def test_disabling_a_user_blocks_login_and_revokes_its_sessions(
    client: Client, make_tenant: Any
) -> None:
    tenant: Tenant = await make_tenant()
    admin = await login(client, tenant)
    user = await create_user(client, admin, "leaver@example.com", "member")
    session = await login(client, tenant, "leaver@example.com", "correct horse battery")
    resp = await client.post(f"/admin/users/{user['id']}/disable", headers=bearer(admin))
    assert resp.status == 200 and (await resp.json())["disabled"] is True
    assert (
        await client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    ).status == 401
    resp = await client.post(
        "/auth/login",
        json={"tenant": tenant.name, "email": "leaver@example.com", "password": "correct horse battery"},
    )
    assert resp.status == 401
    admin_id = (await (await client.get("/admin/users", headers=bearer(admin))).json())["users"]
    own = next(u["id"] for u in admin_id if u["role"] == "admin")
    assert (await client.post(f"/admin/users/{own}/disable", headers=bearer(admin))).status == 409
    assert (await client.post("/admin/users/not-a-uuid/disable", headers=bearer(admin))).status == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await client.post(f"/admin/users/{missing}/disable", headers=bearer(admin))).status == 404


async def test_every_route_declares_its_access(client: Client) -> None:
    from neuroedge_runtime import keys, requestpath  # noqa: PLC0415

    app = client.server.app
    declared = app[keys.ROUTES]
    routes = [r for r in app.router.routes() if r.method != "HEAD" and r.name != requestpath.UNMATCHED]
    assert routes and all(r in declared for r in routes)
