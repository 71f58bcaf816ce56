"""The tenant's JWT signing keyset (`JWT_SIGNING_KEYS`, docs/architecture.md) and when to rotate it.

Rotation is a pure decision over the current keyset and the clock; only `generate_key` is random. After a
rotation the previous key stays for verification until every access token signed with it has expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

Keyset = dict[str, Any]


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def public_jwk(x: str) -> dict[str, str]:
    """The public JWK of an Ed25519 key with its RFC 7638 thumbprint as `kid`."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    kid = _b64url(hashlib.sha256(canonical.encode()).digest())
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}


def generate_key(now: datetime) -> dict[str, Any]:
    """A fresh Ed25519 key entry (the only random part of this module)."""
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = public_jwk(_b64url(raw))
    return {
        "kid": jwk["kid"],
        "private_key_pem": pem,
        "public_jwk": jwk,
        "created_at": timestamp(now),
        "verify_until": None,
    }


def parse(text: str | None) -> Keyset | None:
    """The keyset from its JSON, or None when absent or malformed (then a new one is issued)."""
    try:
        keyset = json.loads(text or "")
        kids = [k["kid"] for k in keyset["keys"]]
        if keyset["active"] not in kids:
            return None
        for key in keyset["keys"]:
            _parse_time(key["created_at"])
    except (ValueError, KeyError, TypeError):
        return None
    return dict(keyset)


def active(keyset: Keyset) -> Mapping[str, Any]:
    return next(k for k in keyset["keys"] if k["kid"] == keyset["active"])


def needs_rotation(keyset: Keyset | None, now: datetime, period_seconds: float, requested: bool) -> bool:
    """Whether to issue a new active key: none yet, on request, or the active one is older than the period."""
    if keyset is None or requested:
        return True
    return _parse_time(active(keyset)["created_at"]) + timedelta(seconds=period_seconds) <= now


def rotate(keyset: Keyset | None, new_key: Mapping[str, Any], now: datetime, access_ttl: float) -> Keyset:
    """The keyset with `new_key` active; the previous keys verify until their last tokens expire."""
    keys: list[dict[str, Any]] = []
    until = timestamp(now + timedelta(seconds=access_ttl))
    for key in (keyset or {"keys": []})["keys"]:
        keys.append({**key, "verify_until": key.get("verify_until") or until})
    return prune({"active": new_key["kid"], "keys": [dict(new_key), *keys]}, now)


def prune(keyset: Keyset, now: datetime) -> Keyset:
    """The keyset without retired keys whose verification window has passed."""
    kept = [
        k
        for k in keyset["keys"]
        if k["kid"] == keyset["active"] or not k.get("verify_until") or _parse_time(k["verify_until"]) > now
    ]
    return {"active": keyset["active"], "keys": kept}


def dumps(keyset: Keyset) -> str:
    """Canonical JSON, so an unchanged keyset serialises to the same Secret value."""
    return json.dumps(keyset, sort_keys=True, separators=(",", ":"))
