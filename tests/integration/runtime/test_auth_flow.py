"""Login, refresh rotation, reuse detection, logout and JWKS against the real database and Redis."""

from __future__ import annotations

from typing import Any

import jwt
from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, bearer, login

Client = TestClient[Any, Any]


async def test_first_admin_is_bootstrapped_and_can_log_in(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await login(client, tenant)
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header == {"alg": "EdDSA", "kid": tenant.active, "typ": "at+jwt"}
    resp = await client.get("/admin/users", headers=bearer(tokens))
    assert resp.status == 200
    users = (await resp.json())["users"]
    assert [(u["email"], u["role"]) for u in users] == [(tenant.admin_email, "admin")]


async def test_bootstrap_is_idempotent_across_restarts(make_client: Any, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    first = await make_client()
    await login(first, tenant)
    second = await make_client()  # a second runtime bootstraps again at startup: no duplicate, no error
    tokens = await login(second, tenant)
    users = (await (await second.get("/admin/users", headers=bearer(tokens))).json())["users"]
    assert len(users) == 1


async def test_wrong_password_unknown_user_and_unknown_tenant_look_the_same(
    client: Client, make_tenant: Any
) -> None:
    tenant: Tenant = await make_tenant()
    attempts = [
        {"tenant": tenant.name, "email": tenant.admin_email, "password": "wrong"},
        {"tenant": tenant.name, "email": "nobody@example.com", "password": "wrong"},
        {"tenant": "no-such-tenant", "email": tenant.admin_email, "password": tenant.admin_password},
        {"tenant": "Not A Tenant!", "email": tenant.admin_email, "password": tenant.admin_password},
    ]
    bodies = []
    for attempt in attempts:
        resp = await client.post("/auth/login", json=attempt)
        assert resp.status == 401
        assert resp.content_type == "application/problem+json"
        body = await resp.json()
        body.pop("instance", None)
        bodies.append(body)
    assert all(b == bodies[0] for b in bodies), bodies


async def test_tenant_in_registry_without_credentials_is_unauthorized(
    client: Client, make_tenant: Any, credentials_dir: Any
) -> None:
    tenant: Tenant = await make_tenant()
    for path in (credentials_dir / tenant.name).iterdir():
        path.unlink()
    (credentials_dir / tenant.name).rmdir()
    resp = await client.post(
        "/auth/login",
        json={"tenant": tenant.name, "email": tenant.admin_email, "password": tenant.admin_password},
    )
    assert resp.status == 401


async def test_suspended_tenant_cannot_log_in_or_use_tokens(
    client: Client, make_tenant: Any, admin_pool: Any
) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await login(client, tenant)
    await admin_pool.execute(
        "UPDATE neuroedge.tenants SET suspended = true WHERE tenant_id = $1", tenant.name
    )
    assert (await client.get("/admin/users", headers=bearer(tokens))).status == 401
    resp = await client.post(
        "/auth/login",
        json={"tenant": tenant.name, "email": tenant.admin_email, "password": tenant.admin_password},
    )
    assert resp.status == 401


async def test_refresh_rotates_and_reuse_revokes_the_family(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    first = await login(client, tenant)
    resp = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert resp.status == 200
    second = await resp.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/admin/users", headers=bearer(second))).status == 200
    # The old token is used up: presenting it again is a reuse and revokes the whole family ...
    reuse = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status == 401
    assert "already used" in (await reuse.json())["detail"]
    # ... including the current token.
    resp = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert resp.status == 401
    # Another session (another family) is unaffected.
    other = await login(client, tenant)
    assert (await client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})).status == 200


async def test_logout_revokes_the_session(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await login(client, tenant)
    resp = await client.post("/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert resp.status == 204
    assert (await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status == 401
    # Logging out an unknown or malformed token is not an error (and reveals nothing).
    assert (await client.post("/auth/logout", json={"refresh_token": "rt1.x.y"})).status == 204


async def test_expired_refresh_token_is_rejected(client: Client, make_tenant: Any, admin_pool: Any) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await login(client, tenant)
    await admin_pool.execute(
        "UPDATE neuroedge.refresh_tokens SET expires_at = now() - interval '1 second' WHERE tenant_id = $1",
        tenant.name,
    )
    resp = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert resp.status == 401 and "expired" in (await resp.json())["detail"]


async def test_refresh_tokens_are_stored_hashed(client: Client, make_tenant: Any, admin_pool: Any) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await login(client, tenant)
    rows = await admin_pool.fetch(
        "SELECT token_hash FROM neuroedge.refresh_tokens WHERE tenant_id = $1", tenant.name
    )
    assert len(rows) == 1
    assert tokens["refresh_token"].encode() not in bytes(rows[0]["token_hash"])
    assert len(rows[0]["token_hash"]) == 32


async def test_jwks_publishes_the_tenant_public_keys_only(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    resp = await client.get("/.well-known/jwks.json", params={"tenant": tenant.name})
    assert resp.status == 200
    keys = (await resp.json())["keys"]
    assert [k["kid"] for k in keys] == [tenant.active]
    assert keys[0]["kty"] == "OKP" and keys[0]["crv"] == "Ed25519" and "d" not in keys[0]
    tokens = await login(client, tenant)
    public = jwt.PyJWK(keys[0])
    claims = jwt.decode(
        tokens["access_token"],
        public,
        algorithms=["EdDSA"],
        audience="neuroedge-runtime",
        issuer=f"https://neuroedge.local/tenants/{tenant.name}",
    )
    assert claims["tid"] == tenant.name and claims["role"] == "admin"
    assert (await client.get("/.well-known/jwks.json", params={"tenant": "nope-nope"})).status == 401
