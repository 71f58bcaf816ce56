"""The tenant's Namespaces, labelled `neuroedge.io/tenant=<name>` and owned by the Tenant."""

from __future__ import annotations

from typing import Any

from neuroedge_operator.builders import meta
from neuroedge_operator.resources import tenant as tenant_model


def namespace(tenant: tenant_model.Tenant, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta.metadata(tenant, name)}
