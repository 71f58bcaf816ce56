"""The isolation NetworkPolicy of each tenant namespace.

Ingress is allowed only from the tenant's own namespaces and from the platform's (label
`neuroedge.io/platform=true`), so other tenants' pods cannot reach it. Egress stays open (DNS, the
database and Redis are outside the tenant).
"""

from __future__ import annotations

from typing import Any

from neuroedge_operator.builders import meta
from neuroedge_operator.resources import tenant as tenant_model

NAME = "neuroedge-tenant-isolation"


def isolation(tenant: tenant_model.Tenant, namespace: str, platform_label: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta.metadata(tenant, NAME, namespace),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {tenant_model.TENANT_LABEL: tenant.name}}},
                        {"namespaceSelector": {"matchLabels": {platform_label: "true"}}},
                    ]
                }
            ],
        },
    }
