"""Access tokens: EdDSA JWTs signed with the tenant's active key, checked as RFC 8725 recommends.

Verification accepts exactly one algorithm (EdDSA) and one token type (`at+jwt`, RFC 9068); picks the key
only from the tenant's own key set by `kid` (a dictionary lookup, never a path or a URL); and requires `iss`
(per tenant), `aud`, `exp`, `nbf`, `iat`, `sub` and `tid` with a small leeway. The tenant named by the
unverified `tid` claim only selects which key set to try: the signature, `iss` and `tid` must all agree, so a
token of tenant A cannot act for tenant B.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import jwt

from neuroedge_runtime.auth.roles import Role
from neuroedge_runtime.tenancy import names
from neuroedge_runtime.tenancy.credentials import TenantCredentials

ALGORITHM = "EdDSA"
TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
REQUIRED_CLAIMS = ["exp", "nbf", "iat", "iss", "aud", "sub", "tid", "role"]
MAX_TOKEN_BYTES = 4096


class TokenError(Exception):
    """The token is not acceptable; the message is for logs, clients only ever see a generic 401."""


@dataclass(frozen=True)
class AccessClaims:
    """The verified identity a request acts as."""

    tenant: str
    user_id: uuid.UUID
    role: Role
    expires_at: int
    issued_at: int = 0
    """`iat`: a token issued at or before its user's revocation time is refused (see `ratelimit`)."""


class VerifiedTokens:
    """Tokens already verified, so that a client reusing its token costs a dictionary lookup, not a JWT parse
    and an Ed25519 verification per request (they were a third of an authenticated request's CPU time).

    Keyed by the SHA-256 of the exact token text (signature included: a tampered token is a different key;
    the cache holds no usable bearer token). A hit is only used while the token is unexpired and the tenant's
    credentials are the version it was verified against, so a rotated-out or retired key is re-checked at
    once. Revocation (a disabled user) is checked per request in Redis, not here. Bounded: cleared when full.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._entries: dict[bytes, tuple[AccessClaims, str]] = {}

    def get(self, token: str, store: CredentialLookup, leeway_seconds: int) -> AccessClaims | None:
        """The claims of a previously verified token that is still acceptable, else None."""
        key = hashlib.sha256(token.encode()).digest()
        entry = self._entries.get(key)
        if entry is None:
            return None
        claims, version = entry
        creds = store.get(claims.tenant)
        if creds is None or creds.version != version or time.time() > claims.expires_at + leeway_seconds:
            del self._entries[key]
            return None
        return claims

    def put(self, token: str, claims: AccessClaims, version: str) -> None:
        """Remember a token that just passed verification."""
        if len(self._entries) >= self._capacity:
            self._entries.clear()
        self._entries[hashlib.sha256(token.encode()).digest()] = (claims, version)


class CredentialLookup(Protocol):
    """Where current credentials come from (the credential store)."""

    def get(self, tenant: str) -> TenantCredentials | None:
        """The tenant's credentials, or None."""
        ...


def issuer_for(base: str, tenant: str) -> str:
    """The `iss` of a tenant's tokens."""
    return f"{base.rstrip('/')}/tenants/{tenant}"


def issue(
    creds: TenantCredentials,
    *,
    issuer: str,
    audience: str,
    user_id: uuid.UUID,
    role: Role,
    ttl_seconds: int,
    now: datetime | None = None,
) -> str:
    """A signed access token for `user_id` of `creds.tenant`."""
    issued = int((now or datetime.now(UTC)).timestamp())
    key = creds.active_key
    if key.private_key is None:
        raise TokenError(f"key {key.kid} cannot sign")
    claims = {
        "iss": issuer_for(issuer, creds.tenant),
        "aud": audience,
        "sub": str(user_id),
        "tid": creds.tenant,
        "role": role.value,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(
        claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": TOKEN_TYPE}
    )


def unverified_tenant(token: str) -> str:
    """The tenant a token claims (not yet trusted: it only selects the key set to verify against)."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenError("token too long")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenError(f"undecodable token: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"algorithm {header.get('alg')!r} is not allowed")
    if header.get("typ") != TOKEN_TYPE:
        raise TokenError(f"token type {header.get('typ')!r} is not {TOKEN_TYPE}")
    tenant = claims.get("tid")
    if not names.is_tenant_name(tenant):
        raise TokenError("tid is not a tenant name")
    return str(tenant)


def verify(
    token: str,
    creds: TenantCredentials,
    *,
    issuer: str,
    audience: str,
    leeway_seconds: int,
    now: datetime | None = None,
) -> AccessClaims:
    """The claims of a token that `creds`' keys signed, or TokenError."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise TokenError(f"undecodable header: {exc}") from exc
    key = creds.keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenError("unknown kid")
    current = now or datetime.now(UTC)
    if key.verify_until is not None and current > key.verify_until:
        raise TokenError(f"key {kid} is retired")
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer_for(issuer, creds.tenant),
            leeway=leeway_seconds,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"rejected token: {exc}") from exc
    if claims["tid"] != creds.tenant:
        raise TokenError("tid does not match the key's tenant")
    try:
        return AccessClaims(
            creds.tenant,
            uuid.UUID(str(claims["sub"])),
            Role(claims["role"]),
            int(claims["exp"]),
            int(claims["iat"]),
        )
    except ValueError as exc:
        raise TokenError(f"malformed claims: {exc}") from exc
