"""Metadata shared by every object the operator creates for a tenant: labels and the owner reference."""

from __future__ import annotations

from typing import Any

from neuroedge_operator.resources import tenant as tenant_model

MANAGED_BY = ("app.kubernetes.io/managed-by", "neuroedge-operator")


def labels(tenant: str) -> dict[str, str]:
    return {tenant_model.TENANT_LABEL: tenant, MANAGED_BY[0]: MANAGED_BY[1]}


def selector(tenant: str) -> str:
    """Label selector of every child of `tenant`."""
    return f"{tenant_model.TENANT_LABEL}={tenant},{MANAGED_BY[0]}={MANAGED_BY[1]}"


def metadata(tenant: tenant_model.Tenant, name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": labels(tenant.name),
        "ownerReferences": [tenant.owner_reference],
    }
    if namespace is not None:
        meta["namespace"] = namespace
    return meta
