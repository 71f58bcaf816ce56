"""ResourceQuota and LimitRange of each tenant namespace.

The quota caps requests and limits alike; the LimitRange gives containers without resources defaults, so
that pods still start under a quota (a quota on cpu rejects pods that declare none).
"""

from __future__ import annotations

from typing import Any

from neuroedge_operator.builders import meta
from neuroedge_operator.resources import tenant as tenant_model

QUOTA_NAME = "neuroedge-quota"
LIMIT_RANGE_NAME = "neuroedge-limits"


def resource_quota(tenant: tenant_model.Tenant, namespace: str) -> dict[str, Any] | None:
    """The quota, or None when the spec sets no limit."""
    quota = tenant.spec.quota
    hard: dict[str, str] = {}
    for resource in ("cpu", "memory"):
        value = getattr(quota, resource)
        if value is not None:
            hard[f"requests.{resource}"] = value
            hard[f"limits.{resource}"] = value
    if quota.pods is not None:
        hard["pods"] = str(quota.pods)
    if not hard:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": meta.metadata(tenant, QUOTA_NAME, namespace),
        "spec": {"hard": hard},
    }


def limit_range(tenant: tenant_model.Tenant, namespace: str) -> dict[str, Any] | None:
    """Container defaults, or None when the spec sets none."""
    spec = tenant.spec.limit_range
    item: dict[str, Any] = {"type": "Container"}
    for field, source in (("defaultRequest", spec.default_request), ("default", spec.default)):
        values = {k: v for k, v in (("cpu", source.cpu), ("memory", source.memory)) if v is not None}
        if values:
            item[field] = values
    if len(item) == 1:
        return None
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta.metadata(tenant, LIMIT_RANGE_NAME, namespace),
        "spec": {"limits": [item]},
    }
