"""Refresh tokens: opaque to clients, stored only as a SHA-256 hash, rotated on every use.

A token reads `rt1.<tenant>.<secret>`: the tenant part tells the runtime which tenant's rows to look in (RLS
needs it before any lookup); the 256-bit secret makes a fast hash sufficient (no password-style KDF needed).
"""

from __future__ import annotations

import hashlib
import secrets

from neuroedge_runtime.tenancy import names

PREFIX = "rt1"


def new_token(tenant: str) -> tuple[str, bytes]:
    """A fresh token for `tenant` and the hash to store."""
    token = f"{PREFIX}.{tenant}.{secrets.token_urlsafe(32)}"
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    """What the database stores and looks up."""
    return hashlib.sha256(token.encode()).digest()


def tenant_of(token: str) -> str | None:
    """The tenant a well-formed token belongs to, else None."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not names.is_tenant_name(parts[1]) or len(parts[2]) < 40:
        return None
    return parts[1]
