"""What a Tenant should have, decided without touching anything: its child manifests, its registry row, the
status fields that name what was provisioned, and which live credentials to keep.

The Tenant handler observes, calls these and applies the result; each is unit-tested on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neuroedge_operator.builders import jwt_keys, namespaces, networkpolicy, quota, rbac, redis_acl, sql
from neuroedge_operator.builders import secret as secret_builder
from neuroedge_operator.resources import tenant as tenant_model


@dataclass(frozen=True)
class Inputs:
    """What the children need besides the Tenant (from the operator settings)."""

    endpoints: secret_builder.Endpoints
    platform_namespace_label: str
    """The label of the platform's namespaces, allowed in by the isolation NetworkPolicy."""


def children(
    tenant: tenant_model.Tenant, creds: secret_builder.Credentials, inputs: Inputs
) -> list[dict[str, Any]]:
    """Every child manifest, namespaces first (so that the namespaced ones have somewhere to go)."""
    objects: list[dict[str, Any] | None] = [namespaces.namespace(tenant, ns) for ns in tenant.namespaces]
    for ns in tenant.namespaces:
        objects += [
            quota.resource_quota(tenant, ns),
            quota.limit_range(tenant, ns),
            networkpolicy.isolation(tenant, ns, inputs.platform_namespace_label)
            if tenant.spec.network_isolation
            else None,
            rbac.service_account(tenant, ns),
            rbac.role(tenant, ns),
            rbac.role_binding(tenant, ns),
            secret_builder.secret(tenant, ns, creds, inputs.endpoints),
        ]
    return [obj for obj in objects if obj is not None]


def registry_row(tenant: tenant_model.Tenant, suspended: bool) -> dict[str, object]:
    """The tenant's registry row (non-secret settings the runtime reads)."""
    spec = tenant.spec
    return {
        "suspended": suspended,
        "access_token_ttl_seconds": round(spec.auth.access_token_ttl),
        "refresh_token_ttl_seconds": round(spec.auth.refresh_token_ttl),
        "rate_limit_rps": float(spec.rate_limit.requests_per_second),
        "rate_limit_burst": spec.rate_limit.burst,
        "llm_tokens_per_minute": spec.llm_budget.tokens_per_minute,
        "llm_tokens_per_day": spec.llm_budget.tokens_per_day,
    }


def status_facts(tenant: tenant_model.Tenant, creds: secret_builder.Credentials) -> dict[str, Any]:
    """The non-condition status fields: what was provisioned, by name (never a secret)."""
    active = jwt_keys.active(creds.keyset)
    return {
        "namespaces": list(tenant.namespaces),
        "databaseRole": sql.role_name(tenant.name),
        "redisUser": redis_acl.user_name(tenant.name),
        "activeSigningKey": active["kid"],
        "lastKeyRotationTime": active["created_at"],
    }


def live_credentials(
    tenant: tenant_model.Tenant, live: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, str], str]:
    """Values and rotation marker of the tenant's live credentials Secret, from the first of the tenant's
    namespaces that has one (in the order the spec lists them); empty when none has."""
    secrets = {
        obj["metadata"]["namespace"]: obj
        for obj in live
        if obj["kind"] == "Secret" and obj["metadata"]["name"] == secret_builder.NAME
    }
    for name in tenant.namespaces:
        if name in secrets:
            annotations = secrets[name]["metadata"].get("annotations") or {}
            return secret_builder.decode(secrets[name]), annotations.get(
                secret_builder.ROTATED_FOR_ANNOTATION, ""
            )
    return {}, ""
