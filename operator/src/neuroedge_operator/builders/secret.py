"""The credentials Secret `neuroedge-tenant-credentials` (docs/architecture.md) and the values it carries.

Values already in the live Secret are kept (the database role and Redis user were given those passwords),
so a reconcile rewrites the Secret only when something really changes: a new tenant, a key rotation.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from neuroedge_operator.builders import jwt_keys, meta, redis_acl, sql
from neuroedge_operator.resources import tenant as tenant_model

NAME = "neuroedge-tenant-credentials"
ROTATED_FOR_ANNOTATION = "neuroedge.io/rotated-for"


@dataclass(frozen=True)
class Credentials:
    """Everything secret about a tenant; `__repr__` hides it so it never ends up in a log."""

    database_password: str
    redis_password: str
    admin_email: str
    admin_password: str
    keyset: jwt_keys.Keyset
    rotated_for: str

    def __repr__(self) -> str:
        return f"Credentials(active_kid={self.keyset['active']!r})"


@dataclass(frozen=True)
class Endpoints:
    """Where tenants reach PostgreSQL and Redis (from the operator settings)."""

    database_host: str
    database_name: str
    redis_host: str


def decode(secret: Mapping[str, Any] | None) -> dict[str, str]:
    """The string values of a live Secret (empty when there is none)."""
    data = (secret or {}).get("data") or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _password_in(url: str | None) -> str | None:
    if not url:
        return None
    password = urlsplit(url).password
    return unquote(password) if password else None


def new_password() -> str:
    return secrets.token_urlsafe(32)


def decide(  # noqa: PLR0917 - all inputs of one pure decision
    tenant: tenant_model.Tenant,
    live: Mapping[str, str],
    rotated_for: str,
    now: datetime,
    new_key: Any,
    email_domain: str,
) -> Credentials:
    """Credentials to publish: live values kept, missing ones generated, the keyset rotated when due.

    `new_key` is a callable returning a fresh key entry, called only when a rotation is due.
    """
    requested = tenant.annotations.get(tenant_model.ROTATE_ANNOTATION, "")
    keyset = jwt_keys.parse(live.get("JWT_SIGNING_KEYS"))
    auth = tenant.spec.auth
    rotate = jwt_keys.needs_rotation(
        keyset, now, auth.key_rotation_period, bool(requested) and requested != rotated_for
    )
    if rotate:
        keyset = jwt_keys.rotate(keyset, new_key(now), now, auth.access_token_ttl)
    else:
        assert keyset is not None
        keyset = jwt_keys.prune(keyset, now)
    return Credentials(
        database_password=_password_in(live.get("DATABASE_URL")) or new_password(),
        redis_password=_password_in(live.get("REDIS_URL")) or new_password(),
        admin_email=live.get("ADMIN_EMAIL") or f"admin@{tenant.name}.{email_domain}",
        admin_password=live.get("ADMIN_PASSWORD") or new_password(),
        keyset=keyset,
        rotated_for=requested if rotate and requested else rotated_for,
    )


def values(tenant: str, creds: Credentials, endpoints: Endpoints) -> dict[str, str]:
    """The Secret's keys and clear values."""
    role, user = sql.role_name(tenant), redis_acl.user_name(tenant)
    return {
        "TENANT": tenant,
        "DATABASE_URL": (
            f"postgresql://{quote(role, safe='')}:{quote(creds.database_password, safe='')}"
            f"@{endpoints.database_host}/{endpoints.database_name}"
        ),
        "REDIS_URL": (
            f"redis://{quote(user, safe='')}:{quote(creds.redis_password, safe='')}@{endpoints.redis_host}/0"
        ),
        "JWT_SIGNING_KEYS": jwt_keys.dumps(creds.keyset),
        "ADMIN_EMAIL": creds.admin_email,
        "ADMIN_PASSWORD": creds.admin_password,
    }


def secret(
    tenant: tenant_model.Tenant, namespace: str, creds: Credentials, endpoints: Endpoints
) -> dict[str, Any]:
    """The Secret manifest (base64 `data`, comparable with the live object)."""
    metadata = meta.metadata(tenant, NAME, namespace)
    metadata["annotations"] = {ROTATED_FOR_ANNOTATION: creds.rotated_for}
    encoded = {
        k: base64.b64encode(v.encode()).decode() for k, v in values(tenant.name, creds, endpoints).items()
    }
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque", "data": encoded}
