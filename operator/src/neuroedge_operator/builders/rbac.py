"""The runtime's ServiceAccount in each tenant namespace, with a Role limited to that namespace."""

from __future__ import annotations

from typing import Any

from neuroedge_operator.builders import meta
from neuroedge_operator.resources import tenant as tenant_model

NAME = "neuroedge-runtime"
CREDENTIALS_SECRET = "neuroedge-tenant-credentials"  # noqa: S105 - a name, not a secret


def service_account(tenant: tenant_model.Tenant, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta.metadata(tenant, NAME, namespace),
        "automountServiceAccountToken": True,
    }


def role(tenant: tenant_model.Tenant, namespace: str) -> dict[str, Any]:
    """What the runtime may read through the API: its own credentials Secret and the engines' ConfigMaps.

    The runtime gets both as mounted volumes today and uses no other API (no leader election, no events), so
    nothing more is granted. Every rule here must also be held by the operator's ClusterRole: Kubernetes
    refuses to let the operator grant what it does not hold (RBAC escalation prevention), and the
    least-privilege test in tests/integration/delivery proves the pair works."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta.metadata(tenant, NAME, namespace),
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": [CREDENTIALS_SECRET],
                "verbs": ["get"],
            },
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
        ],
    }


def role_binding(tenant: tenant_model.Tenant, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta.metadata(tenant, NAME, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
    }
