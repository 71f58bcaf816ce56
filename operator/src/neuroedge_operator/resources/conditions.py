"""Status conditions as named values: handlers say `conditions.database_unreachable(err)`, never build dicts.

A condition keeps its `lastTransitionTime` while its status stays the same, so that re-applying the same
conditions is a no-op and an idle operator never rewrites a Tenant's status.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

READY = "Ready"
NAMESPACES_READY = "NamespacesReady"
DATABASE_READY = "DatabaseReady"
CACHE_READY = "CacheReady"
CREDENTIALS_READY = "CredentialsReady"
TENANT_PARTS = (NAMESPACES_READY, DATABASE_READY, CACHE_READY, CREDENTIALS_READY)

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Condition:
    """One condition as we want it; the transition time is filled in by `merge`."""

    type: str
    status: Status
    reason: str
    message: str

    @property
    def ok(self) -> bool:
        """Whether the condition is True."""
        return self.status == "True"


def ok(kind: str, reason: str, message: str) -> Condition:
    """A True condition."""
    return Condition(kind, "True", reason, message)


def failed(kind: str, reason: str, message: str) -> Condition:
    """A False condition: `reason` is CamelCase for machines, `message` tells the user what to fix."""
    return Condition(kind, "False", reason, message)


def namespaces_ready(count: int) -> Condition:
    return ok(NAMESPACES_READY, "Applied", f"{count} namespace(s) with quota, limits, policies and RBAC")


def namespace_conflict(names: Sequence[str]) -> Condition:
    return failed(
        NAMESPACES_READY,
        "NamespaceConflict",
        f"namespace(s) {', '.join(names)} already exist and do not belong to this tenant; "
        "choose other names or delete them",
    )


def kubernetes_error(error: str) -> Condition:
    return failed(NAMESPACES_READY, "KubernetesError", f"applying the tenant's namespaces failed: {error}")


def database_ready() -> Condition:
    return ok(DATABASE_READY, "Provisioned", "role, grants and row-level security policies are in place")


def database_unreachable(error: str) -> Condition:
    return failed(DATABASE_READY, "DatabaseUnreachable", f"PostgreSQL is unreachable: {error}")


def database_error(error: str) -> Condition:
    return failed(DATABASE_READY, "DatabaseError", f"provisioning PostgreSQL failed: {error}")


def cache_ready() -> Condition:
    return ok(CACHE_READY, "Provisioned", "Redis ACL user confined to the tenant's key prefix")


def cache_unreachable(error: str) -> Condition:
    return failed(CACHE_READY, "CacheUnreachable", f"Redis is unreachable: {error}")


def credentials_ready(active_kid: str) -> Condition:
    return ok(CREDENTIALS_READY, "Issued", f"credentials Secret is current; active signing key {active_kid}")


def credentials_pending(why: str) -> Condition:
    return failed(CREDENTIALS_READY, "Pending", why)


def invalid_spec(message: str) -> list[Condition]:
    """Every condition False with the same message: nothing is written for an invalid spec."""
    return [failed(kind, "InvalidSpec", message) for kind in (READY, *TENANT_PARTS)]


def suspended() -> Condition:
    return failed(READY, "Suspended", "spec.suspend is true: database and Redis logins are disabled")


def deletion_blocked(error: str) -> Condition:
    return failed(READY, "DeletionBlocked", f"deletion waits until PostgreSQL and Redis answer: {error}")


DEGRADED = "Degraded"


def vector_ready(backend: str, storage_name: str) -> Condition:
    return ok(READY, "Reconciled", f"{backend} storage {storage_name} and its indexes match the spec")


def not_degraded() -> Condition:
    return failed(DEGRADED, "AsExpected", "the stored layout matches the spec")


def spec_diverged(divergences: Sequence[str]) -> list[Condition]:
    """An immutable parameter differs from what is stored: nothing is changed (fixing it would drop data)."""
    text = "; ".join(divergences)
    return [
        failed(READY, "SpecDiverged", f"left unchanged, the stored vectors would not fit: {text}"),
        ok(
            DEGRADED,
            "ImmutableFieldChanged",
            f"{text}; create a new VectorIndex and re-ingest, or restore the original values",
        ),
    ]


def no_tenant(namespace: str, why: str) -> Condition:
    return failed(
        READY,
        "NoTenant",
        f"namespace {namespace} {why}; a VectorIndex must live in a namespace of a Tenant "
        "(labelled neuroedge.io/tenant by the Tenant reconciler)",
    )


def tenant_not_provisioned(tenant: str, missing: str) -> Condition:
    return failed(READY, "TenantNotReady", f"tenant {tenant} has no {missing} yet; waiting for the Tenant")


def backend_unavailable(backend: str, why: str) -> Condition:
    return failed(READY, "BackendUnavailable", f"backend {backend}: {why}")


def backend_error(error: str) -> Condition:
    return failed(READY, "BackendError", error)


def invalid_vector_spec(message: str) -> list[Condition]:
    return [failed(READY, "InvalidSpec", message)]


def embedding_mismatch(message: str) -> list[Condition]:
    return [failed(READY, "EmbeddingDimensionMismatch", f"{message}; nothing was created")]


def embedding_secret_missing(message: str) -> list[Condition]:
    return [failed(READY, "EmbeddingSecretMissing", message)]


def vector_deletion_blocked(error: str) -> Condition:
    return failed(READY, "DeletionBlocked", f"deletion waits: {error}")


def summary(parts: Iterable[Condition]) -> Condition:
    """`Ready` from the parts: True only when every part is True, else the first failure's message."""
    parts = list(parts)
    failures = [part for part in parts if not part.ok]
    if not failures:
        return ok(READY, "Reconciled", "the tenant is provisioned")
    first = failures[0]
    return failed(READY, first.reason, f"{first.type}: {first.message}")


def merge(
    current: Sequence[Mapping[str, Any]], wanted: Iterable[Condition], now: str, generation: int
) -> list[dict[str, Any]]:
    """The new `status.conditions`: wanted ones replace same-typed ones, keeping the transition time while the
    status is unchanged; conditions of other types are kept."""
    by_type = {str(c.get("type")): dict(c) for c in current}
    for cond in wanted:
        old = by_type.get(cond.type, {})
        since = old.get("lastTransitionTime") if old.get("status") == cond.status else None
        by_type[cond.type] = {
            "type": cond.type,
            "status": cond.status,
            "reason": cond.reason,
            "message": cond.message,
            "lastTransitionTime": since or now,
            "observedGeneration": generation,
        }
    return sorted(by_type.values(), key=_order)


def _order(cond: Mapping[str, Any]) -> tuple[int, str]:
    order = (READY, *TENANT_PARTS)
    kind = str(cond.get("type"))
    return (order.index(kind) if kind in order else len(order), kind)


def transitions(current: Sequence[Mapping[str, Any]], wanted: Iterable[Condition]) -> list[Condition]:
    """Conditions whose status or reason changes: each becomes one Kubernetes Event."""
    by_type = {str(c.get("type")): c for c in current}
    return [
        cond
        for cond in wanted
        if by_type.get(cond.type, {}).get("status") != cond.status
        or by_type.get(cond.type, {}).get("reason") != cond.reason
    ]


AUTOSCALING = "Autoscaling"


def invalid_workload_spec(message: str) -> list[Condition]:
    """An Engine or WorkerPool the operator refuses to build: nothing is written until the spec is fixed."""
    return [failed(READY, "InvalidSpec", message), ok(DEGRADED, "InvalidSpec", message)]


def workload_no_tenant(kind: str, namespace: str, why: str) -> list[Condition]:
    message = (
        f"namespace {namespace} {why}; an {kind} must live in a namespace of a Tenant "
        "(labelled neuroedge.io/tenant by the Tenant reconciler)"
    )
    return [failed(READY, "NoTenant", message), ok(DEGRADED, "NoTenant", message)]


def autoscaled_by_operator(target: int) -> Condition:
    return ok(AUTOSCALING, "Operator", f"the operator scales on the backlog ({target} jobs per replica)")


def autoscaled_by_keda() -> Condition:
    return ok(
        AUTOSCALING, "KEDA", "a KEDA ScaledObject (redis-streams trigger) scales the pool through /scale"
    )


def keda_not_installed(target: int) -> Condition:
    return ok(
        AUTOSCALING,
        "KedaNotInstalled",
        "autoscaling.keda is set but KEDA's CRDs (scaledobjects.keda.sh) are not installed: the operator's "
        f"built-in autoscaler scales the pool instead ({target} jobs per replica)",
    )


def autoscaling_off() -> Condition:
    return failed(AUTOSCALING, "Disabled", "autoscaling.enabled is false: spec.replicas is the pool's size")
