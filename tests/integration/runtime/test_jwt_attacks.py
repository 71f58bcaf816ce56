"""Access-token attacks from RFC 8725 against a running runtime: a forged or out-of-policy token is a 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from runtime_helpers import Tenant, bearer, login, write_credentials

Client = TestClient[Any, Any]
AUD = "neuroedge-runtime"


def iss(tenant: str) -> str:
    return f"https://neuroedge.local/tenants/{tenant}"


def claims_for(tenant: Tenant, subject: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": iss(tenant.name),
        "aud": AUD,
        "sub": subject,
        "tid": tenant.name,
        "role": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def mint(key: ed25519.Ed25519PrivateKey, kid: str, claims: dict[str, Any], typ: str = "at+jwt") -> str:
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid, "typ": typ})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


async def status(client: Client, token: str) -> int:
    resp = await client.get("/admin/users", headers={"Authorization": f"Bearer {token}"})
    if resp.status == 401:
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["detail"] == "invalid access token" or resp.status == 401
    return resp.status


@pytest.fixture
async def setup(client: Client, make_tenant: Any) -> tuple[Client, Tenant, str]:
    tenant: Tenant = await make_tenant()
    tokens = await login(client, tenant)
    sub = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
    return client, tenant, sub


async def test_a_correctly_minted_token_is_accepted(setup: Any) -> None:
    client, tenant, sub = setup
    token = mint(tenant.keys[tenant.active], tenant.active, claims_for(tenant, sub))
    assert await status(client, token) == 200


async def test_alg_none_is_rejected(setup: Any) -> None:
    client, tenant, sub = setup
    for alg in ("none", "None", "NONE"):
        token = unsigned({"alg": alg, "typ": "at+jwt", "kid": tenant.active}, claims_for(tenant, sub)) + "."
        assert await status(client, token) == 401


async def test_hs256_signed_with_the_public_key_is_rejected(setup: Any) -> None:
    client, tenant, sub = setup
    public = tenant.keys[tenant.active].public_key()
    for secret in (
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes_raw(),
        b64(public.public_bytes_raw()).encode(),
    ):
        signing_input = unsigned(
            {"alg": "HS256", "typ": "at+jwt", "kid": tenant.active}, claims_for(tenant, sub)
        )
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert await status(client, f"{signing_input}.{b64(signature)}") == 401


class Ago(int):
    """A time claim relative to when the test runs (parameters are built at collection time)."""


@pytest.mark.parametrize(
    ("overrides", "accepted"),
    [
        ({"exp": Ago(120)}, False),  # expired beyond the leeway
        ({"exp": Ago(5)}, True),  # within the 30 s leeway
        ({"nbf": Ago(-120)}, False),  # not yet valid
        ({"iat": Ago(-120)}, False),  # issued in the future
        ({"aud": "someone-else"}, False),
        ({"aud": ["someone-else", AUD]}, False),  # strict aud: a list is not this audience
        ({"iss": "https://evil.example/tenants/x"}, False),
        ({"exp": None}, False),  # required claims missing
        ({"nbf": None}, False),
        ({"iat": None}, False),
        ({"role": "superuser"}, False),
        ({"sub": "not-a-uuid"}, False),
    ],
)
async def test_claims_are_checked(setup: Any, overrides: dict[str, Any], accepted: bool) -> None:
    client, tenant, sub = setup
    now = int(time.time())
    claims = {k: now - v if isinstance(v, Ago) else v for k, v in overrides.items()}
    # The expiry cases use their own iat/nbf in the past so that only the tested claim is out of policy.
    if isinstance(overrides.get("exp"), Ago):
        claims.update(iat=claims["exp"] - 300, nbf=claims["exp"] - 300)
    token = mint(tenant.keys[tenant.active], tenant.active, claims_for(tenant, sub, **claims))
    assert await status(client, token) == (200 if accepted else 401)


async def test_wrong_token_type_is_rejected(setup: Any) -> None:
    client, tenant, sub = setup
    for typ in ("JWT", "refresh+jwt", ""):
        assert (
            await status(
                client, mint(tenant.keys[tenant.active], tenant.active, claims_for(tenant, sub), typ)
            )
            == 401
        )


async def test_unknown_or_injected_kid_is_rejected(setup: Any) -> None:
    client, tenant, sub = setup
    key = tenant.keys[tenant.active]
    for kid in ("nope", "../../../../etc/passwd", "' OR '1'='1", "http://127.0.0.1:1/jwks.json", ""):
        assert await status(client, mint(key, kid, claims_for(tenant, sub))) == 401
    # A kid that is not a string at all.
    signing_input = unsigned({"alg": "EdDSA", "typ": "at+jwt", "kid": 7}, claims_for(tenant, sub))
    token = f"{signing_input}.{b64(key.sign(signing_input.encode()))}"
    assert await status(client, token) == 401


async def test_token_of_tenant_a_cannot_act_for_tenant_b(client: Client, make_tenant: Any) -> None:
    a: Tenant = await make_tenant("a")
    b: Tenant = await make_tenant("b")
    sub_a = jwt.decode((await login(client, a))["access_token"], options={"verify_signature": False})["sub"]
    key_a = a.keys[a.active]
    attempts = [
        mint(key_a, a.active, claims_for(b, sub_a)),  # B's claims, A's kid: B has no such kid
        mint(key_a, b.active, claims_for(b, sub_a)),  # B's kid, but A's signature
        mint(key_a, a.active, claims_for(a, sub_a, tid=b.name)),  # A's issuer with B's tid
        mint(key_a, a.active, claims_for(b, sub_a, tid=a.name)),  # A's tid with B's issuer
    ]
    for token in attempts:
        assert await status(client, token) == 401
    # And A's genuine token reads A's users, never B's.
    resp = await client.get("/admin/users", headers=bearer(await login(client, a)))
    assert {u["email"] for u in (await resp.json())["users"]} == {a.admin_email}


async def test_tampered_payload_is_rejected(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    admin = await login(client, tenant)
    await client.post(
        "/admin/users",
        json={"email": "v@x.io", "password": "viewer-password", "role": "viewer"},
        headers=bearer(admin),
    )
    viewer = await login(client, tenant, "v@x.io", "viewer-password")
    header, payload, signature = viewer["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["role"] == "viewer"
    claims["role"] = "admin"
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    assert (
        await status(client, viewer["access_token"]) == 403
    )  # the genuine viewer token: authenticated, not admin
    assert await status(client, forged) == 401
    # A flipped signature bit is rejected too.
    bad_signature = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert await status(client, f"{header}.{payload}.{bad_signature}") == 401


async def test_garbage_tokens_are_rejected(setup: Any) -> None:
    client, _, _ = setup
    for token in ("x", "a.b.c", "..", "e30.e30.", "Bearer", "a" * 5000):
        assert await status(client, token) == 401
    resp = await client.get("/admin/users", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"


async def test_key_rotation_keeps_old_tokens_valid_until_the_key_is_retired(
    client: Client, make_tenant: Any, credentials_dir: Any
) -> None:
    tenant: Tenant = await make_tenant()
    old_kid = tenant.active
    old = await login(client, tenant)
    tenant.keys["k2"] = ed25519.Ed25519PrivateKey.generate()
    tenant.active = "k2"
    write_credentials(credentials_dir, tenant)  # rotation: the runtime notices the changed files
    new = await login(client, tenant)
    assert jwt.get_unverified_header(new["access_token"])["kid"] == "k2"
    assert await status(client, old["access_token"]) == 200
    assert await status(client, new["access_token"]) == 200
    write_credentials(credentials_dir, tenant, retired={old_kid: "2000-01-01T00:00:00+00:00"})
    assert await status(client, old["access_token"]) == 401
    assert await status(client, new["access_token"]) == 200
