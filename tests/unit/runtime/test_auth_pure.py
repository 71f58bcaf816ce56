"""Tokens, passwords, refresh tokens and credentials parsing (pure logic, no server)."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from neuroedge_runtime.auth import passwords, refresh, tokens
from neuroedge_runtime.auth.roles import Role, allows
from neuroedge_runtime.tenancy import credentials


def key_doc(kid: str, key: ed25519.Ed25519PrivateKey, verify_until: str | None = None) -> dict[str, object]:
    return {
        "kid": kid,
        "private_key_pem": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "public_jwk": json.loads(OKPAlgorithm.to_jwk(key.public_key())),
        "created_at": "2026-01-01T00:00:00Z",
        "verify_until": verify_until,
    }


def files(tenant: str, *keys: dict[str, object], active: str = "k1") -> dict[str, str]:
    return {
        "TENANT": tenant,
        "JWT_SIGNING_KEYS": json.dumps({"active": active, "keys": list(keys)}),
        "ADMIN_EMAIL": "a@b.c",
        "ADMIN_PASSWORD": "pw",
    }


def creds(tenant: str = "acme") -> credentials.TenantCredentials:
    return credentials.parse(tenant, files(tenant, key_doc("k1", ed25519.Ed25519PrivateKey.generate())), "v1")


def test_issue_and_verify_round_trip() -> None:
    c = creds()
    user = uuid.uuid4()
    token = tokens.issue(
        c, issuer="https://x", audience="aud", user_id=user, role=Role.MEMBER, ttl_seconds=60
    )
    assert tokens.unverified_tenant(token) == "acme"
    claims = tokens.verify(token, c, issuer="https://x", audience="aud", leeway_seconds=0)
    assert (claims.tenant, claims.user_id, claims.role) == ("acme", user, Role.MEMBER)


def test_leeway_applies_to_expiry() -> None:
    c = creds()
    past = datetime.now(UTC) - timedelta(seconds=70)
    token = tokens.issue(
        c, issuer="i", audience="a", user_id=uuid.uuid4(), role=Role.ADMIN, ttl_seconds=60, now=past
    )
    assert tokens.verify(token, c, issuer="i", audience="a", leeway_seconds=30).role == Role.ADMIN
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(token, c, issuer="i", audience="a", leeway_seconds=5)


def test_another_tenants_key_set_does_not_verify() -> None:
    a, b = creds("acme"), creds("beta")
    token = tokens.issue(a, issuer="i", audience="a", user_id=uuid.uuid4(), role=Role.ADMIN, ttl_seconds=60)
    with pytest.raises(tokens.TokenError):
        tokens.verify(token, b, issuer="i", audience="a", leeway_seconds=0)


def test_credentials_parsing_errors() -> None:
    key = key_doc("k1", ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(credentials.CredentialsError, match="TENANT"):
        credentials.parse("acme", files("other", key), "v")
    with pytest.raises(credentials.CredentialsError, match="active"):
        credentials.parse("acme", files("acme", key, active="k9"), "v")
    mismatched = {
        **key,
        "public_jwk": json.loads(OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate().public_key())),
    }
    with pytest.raises(credentials.CredentialsError, match="does not match"):
        credentials.parse("acme", files("acme", mismatched), "v")
    with pytest.raises(credentials.CredentialsError, match="not JSON"):
        credentials.parse("acme", {"TENANT": "acme", "JWT_SIGNING_KEYS": "{"}, "v")
    with pytest.raises(credentials.CredentialsError, match="time zone"):
        credentials.parse("acme", files("acme", {**key, "verify_until": "2026-01-01T00:00:00"}), "v")


def test_credential_store_rereads_changed_files_after_the_check_interval(tmp_path: Path) -> None:
    now = [0.0]
    store = credentials.CredentialStore(tmp_path, check_seconds=5, clock=lambda: now[0])
    assert store.get("acme") is None and store.get("../etc") is None
    directory = tmp_path / "acme"
    directory.mkdir()
    for name, value in files("acme", key_doc("k1", ed25519.Ed25519PrivateKey.generate())).items():
        (directory / name).write_text(value)
    now[0] = 10
    first = store.get("acme")
    assert first is not None and first.active_kid == "k1" and store.tenants() == ["acme"]
    new = files(
        "acme",
        key_doc("k1", ed25519.Ed25519PrivateKey.generate()),
        key_doc("k2", ed25519.Ed25519PrivateKey.generate()),
        active="k2",
    )
    for name, value in new.items():
        (directory / f".{name}").write_text(value)
        (directory / f".{name}").replace(directory / name)
    now[0] = 12
    assert store.get("acme") is first  # within the interval: cached
    now[0] = 20
    second = store.get("acme")
    assert second is not None and second.active_kid == "k2" and second.version != first.version
    (directory / "JWT_SIGNING_KEYS").write_text("garbage")
    now[0] = 30
    assert store.get("acme") is None  # invalid credentials: no tenant, never a crash


def test_passwords() -> None:
    encoded = passwords.hash_password("s3cret")
    assert encoded.startswith("scrypt$16384$8$1$") and "s3cret" not in encoded
    assert passwords.verify_password("s3cret", encoded)
    assert not passwords.verify_password("s3cret!", encoded)
    assert not passwords.verify_password("s3cret", "md5$abc")
    assert not passwords.verify_password("s3cret", "scrypt$x$y")
    assert passwords.hash_password("s3cret") != encoded  # salted


def test_refresh_tokens() -> None:
    token, digest = refresh.new_token("acme")
    assert refresh.tenant_of(token) == "acme" and refresh.token_hash(token) == digest and len(digest) == 32
    for bad in ("", "rt1.acme", "rt2.acme." + "x" * 43, "rt1.ACME." + "x" * 43, "rt1.acme.short", "a.b.c.d"):
        assert refresh.tenant_of(bad) is None


def test_role_order() -> None:
    assert allows(Role.ADMIN, Role.VIEWER) and allows(Role.MEMBER, Role.MEMBER)
    assert not allows(Role.VIEWER, Role.MEMBER) and not allows(Role.MEMBER, Role.ADMIN)


def test_verified_token_cache_honours_expiry_and_credential_changes() -> None:
    class Store:
        def __init__(self, value: credentials.TenantCredentials | None) -> None:
            self.value = value

        def get(self, tenant: str) -> credentials.TenantCredentials | None:
            return self.value

    c = creds()
    store = Store(c)
    cache = tokens.VerifiedTokens(capacity=2)
    live = tokens.AccessClaims("acme", uuid.uuid4(), Role.ADMIN, int(time.time()) + 60)
    cache.put("t1", live, c.version)
    assert cache.get("t1", store, 0) is live
    assert cache.get("t1-tampered", store, 0) is None
    expired = tokens.AccessClaims("acme", uuid.uuid4(), Role.ADMIN, int(time.time()) - 10)
    cache.put("t2", expired, c.version)
    assert cache.get("t2", store, 30) is expired  # within the leeway
    assert cache.get("t2", store, 0) is None
    store.value = dataclasses.replace(c, version="v2")  # rotated credentials: a new version
    assert cache.get("t1", store, 0) is None
    store.value = None
    cache.put("t3", live, c.version)
    assert cache.get("t3", store, 0) is None
