"""Which tenant a namespaced object belongs to: every namespaced kind (Engine, WorkerPool, VectorIndex) asks
the same question before it touches a tenant's storage, queue or registry rows, so it is answered once here.
"""

from __future__ import annotations

from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import tenant as tenant_model


async def tenant_of(ctx: Context, namespace: str, deleting: bool = False) -> tuple[str | None, str]:
    """The tenant owning `namespace` (its `neuroedge.io/tenant` label, confirmed by the Tenant listing the
    namespace, so that relabelling a namespace cannot reach another tenant's storage), or None and why.
    While deleting, a label naming a Tenant that no longer exists is trusted: its storage is reclaimed."""
    found = await ctx.kube.get("v1", "Namespace", namespace)
    if found is None:
        return None, "does not exist"
    tenant = (found["metadata"].get("labels") or {}).get(tenant_model.TENANT_LABEL)
    if not tenant:
        return None, f"has no {tenant_model.TENANT_LABEL} label"
    owner = await ctx.kube.get(f"{tenant_model.GROUP}/{tenant_model.VERSION}", tenant_model.KIND, tenant)
    if owner is None:
        return (tenant, "") if deleting else (None, f"is labelled for tenant {tenant}, which does not exist")
    try:
        listed = tenant_model.parse(owner).namespaces
    except tenant_model.InvalidTenantError:
        listed = ()
    if namespace not in listed:
        return None, f"is labelled for tenant {tenant}, which does not list it among its namespaces"
    return tenant, ""
