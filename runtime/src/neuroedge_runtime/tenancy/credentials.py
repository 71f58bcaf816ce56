"""Tenant credentials from mounted Secret volumes, re-read when the files change (key rotation).

Layout: `<credentials_dir>/<tenant>/<KEY>`, one file per Secret key (`TENANT`, `JWT_SIGNING_KEYS`,
`ADMIN_EMAIL`, `ADMIN_PASSWORD`). Kubernetes updates a mounted Secret by swapping a symlink, so a change shows
as a new inode/mtime of the key files; each tenant's files are re-checked at most every `check_seconds`.
A tenant whose directory is missing or unreadable simply has no credentials: callers answer 401 without saying
why.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from neuroedge_runtime.tenancy import names

log = logging.getLogger(__name__)
KEY_FILES = ("TENANT", "JWT_SIGNING_KEYS", "ADMIN_EMAIL", "ADMIN_PASSWORD")


class CredentialsError(ValueError):
    """The files of a tenant do not form valid credentials."""


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key of a tenant: the active one signs, every one verifies until `verify_until`."""

    kid: str
    public_key: ed25519.Ed25519PublicKey
    public_jwk: dict[str, Any]
    private_key: ed25519.Ed25519PrivateKey | None = field(default=None, repr=False)
    verify_until: datetime | None = None


@dataclass(frozen=True)
class TenantCredentials:
    """What the runtime knows of a tenant from its Secret. `version` changes whenever the files do."""

    tenant: str
    active_kid: str
    keys: Mapping[str, SigningKey]
    admin_email: str | None
    admin_password: str | None = field(repr=False)
    version: str

    @property
    def active_key(self) -> SigningKey:
        """The key new access tokens are signed with."""
        return self.keys[self.active_kid]


def _timestamp(value: object, what: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise CredentialsError(f"{what} must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CredentialsError(f"{what} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise CredentialsError(f"{what} has no time zone")
    return parsed


def _signing_key(raw: Mapping[str, Any]) -> SigningKey:
    kid = raw.get("kid")
    if not isinstance(kid, str) or not kid:
        raise CredentialsError("a signing key has no kid")
    private: ed25519.Ed25519PrivateKey | None = None
    pem = raw.get("private_key_pem")
    if pem:
        loaded = serialization.load_pem_private_key(str(pem).encode(), password=None)
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise CredentialsError(f"key {kid} is not an Ed25519 private key")
        private = loaded
    jwk = raw.get("public_jwk")
    if isinstance(jwk, Mapping):
        public = OKPAlgorithm.from_jwk(dict(jwk))
        if not isinstance(public, ed25519.Ed25519PublicKey):
            raise CredentialsError(f"key {kid}: public_jwk is not an Ed25519 public key")
        public_jwk = {**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}
    elif private is not None:
        public = private.public_key()
        public_jwk = {**json.loads(OKPAlgorithm.to_jwk(public)), "kid": kid, "alg": "EdDSA", "use": "sig"}
    else:
        raise CredentialsError(f"key {kid} has neither public_jwk nor private_key_pem")
    if private is not None and private.public_key().public_bytes_raw() != public.public_bytes_raw():
        raise CredentialsError(f"key {kid}: public_jwk does not match private_key_pem")
    return SigningKey(
        kid, public, public_jwk, private, _timestamp(raw.get("verify_until"), f"{kid}.verify_until")
    )


def parse(tenant: str, files: Mapping[str, str], version: str) -> TenantCredentials:
    """Credentials from the contents of the key files (pure; raises CredentialsError)."""
    if files.get("TENANT", "").strip() != tenant:
        raise CredentialsError("TENANT does not name the directory's tenant")
    try:
        doc = json.loads(files["JWT_SIGNING_KEYS"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise CredentialsError("JWT_SIGNING_KEYS is missing or not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise CredentialsError("JWT_SIGNING_KEYS must be an object with a list of keys")
    keys = {key.kid: key for key in (_signing_key(raw) for raw in doc["keys"] if isinstance(raw, dict))}
    active = doc.get("active")
    if not isinstance(active, str) or active not in keys or keys[active].private_key is None:
        raise CredentialsError("the active kid does not name a key with a private key")
    return TenantCredentials(
        tenant=tenant,
        active_kid=active,
        keys=keys,
        admin_email=files.get("ADMIN_EMAIL", "").strip() or None,
        admin_password=files.get("ADMIN_PASSWORD", "").strip() or None,
        version=version,
    )


@dataclass
class _Entry:
    checked_at: float
    fingerprint: str
    credentials: TenantCredentials | None


class CredentialStore:
    """Reads and caches every tenant's credentials from `root`; re-reads a tenant when its files change."""

    def __init__(
        self, root: Path, check_seconds: float = 0.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._root = root
        self._check_seconds = check_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def tenants(self) -> list[str]:
        """Tenants that currently have a credentials directory."""
        try:
            return sorted(p.name for p in self._root.iterdir() if p.is_dir() and names.is_tenant_name(p.name))
        except OSError:
            return []

    def get(self, tenant: str) -> TenantCredentials | None:
        """The tenant's current credentials, or None when it has none (or they are invalid)."""
        if not names.is_tenant_name(tenant):
            return None
        now = self._clock()
        entry = self._entries.get(tenant)
        if entry is not None and now - entry.checked_at < self._check_seconds:
            return entry.credentials
        fingerprint = self._fingerprint(tenant)
        if entry is not None and entry.fingerprint == fingerprint:
            entry.checked_at = now
            return entry.credentials
        self._entries[tenant] = _Entry(now, fingerprint, self._load(tenant, fingerprint))
        return self._entries[tenant].credentials

    def _fingerprint(self, tenant: str) -> str:
        parts = []
        for key in KEY_FILES:
            try:
                st = os.stat(self._root / tenant / key)
                parts.append(f"{key}:{st.st_ino}:{st.st_mtime_ns}:{st.st_size}")
            except OSError:
                parts.append(f"{key}:-")
        return "|".join(parts)

    def _load(self, tenant: str, fingerprint: str) -> TenantCredentials | None:
        directory = self._root / tenant
        if not directory.is_dir():
            return None
        files: dict[str, str] = {}
        for key in KEY_FILES:
            path = directory / key
            if path.is_file():
                files[key] = path.read_text()
        try:
            return parse(tenant, files, fingerprint)
        except (CredentialsError, ValueError, TypeError) as exc:
            log.error("credentials of tenant %s are invalid: %s", tenant, exc)
            return None
