"""Which tenant a namespaced object belongs to: every namespaced kind (Engine, WorkerPool, VectorIndex) asks
the same question before it touches a tenant's storage, queue or registry rows, so it is answered once here.
"""

from __future__ import annotations

from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import tenant as tenant_model
from neuroedge_operator.resources import workload


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


WORKLOAD_KINDS = ("Engine", "WorkerPool", "VectorIndex")
"""The namespaced kinds a Tenant's removal takes down first, while the Tenant still exists."""


async def remove_workloads(ctx: Context, tenant: str) -> int:
    """Delete the Engines, WorkerPools and VectorIndexes in the tenant's namespaces; returns how many are
    still there (their finalizers have not run yet), 0 once none is left.

    A Tenant's removal waits for this before it drops the tenant's role and Redis user and lets its
    namespaces go. Their own finalizers then run while the tenant is still known (a VectorIndex with
    reclaimPolicy Delete drops its table; without the tenant it could only leave it behind), and the namespace
    controller never has to delete our objects itself: when kube-apiserver restarts in the middle of a
    namespace deletion, the controller can finish the namespace before it sees our API group again, which
    leaves such objects orphaned in a namespace that no longer exists, where nobody can remove their
    finalizers (seen in the chaos test)."""
    namespaces = await ctx.kube.list("v1", "Namespace", f"{tenant_model.TENANT_LABEL}={tenant}")
    left = 0
    for namespace in namespaces:
        name = namespace["metadata"]["name"]
        for kind in WORKLOAD_KINDS:
            # Fresh: an Engine created a moment ago and not yet in the watch cache would be orphaned.
            for item in await ctx.kube.list_in(workload.API_VERSION, kind, name, "", fresh=True):
                left += 1
                if not item["metadata"].get("deletionTimestamp"):
                    await ctx.kube.delete(workload.API_VERSION, kind, item["metadata"]["name"], name)
    return left
