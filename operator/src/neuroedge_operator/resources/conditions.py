"""Status conditions as named values: handlers say `conditions.database_unreachable(err)`, never build dicts.

A condition keeps its `lastTransitionTime` while its status stays the same, so that re-applying the same
conditions is a no-op and an idle operator never rewrites a Tenant's status.

Every condition type is named here with the status of it that is a Warning (`WARNING_WHEN`): a transition
into that status is published as a Warning Event, every other transition as a Normal one. The rule is the
same for all four kinds, so `kubectl get events --field-selector type=Warning` lists what needs a person.
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
DEGRADED = "Degraded"
PROGRESSING = "Progressing"
AUTOSCALING = "Autoscaling"
MODEL_READY = "ModelReady"
MODEL_VOLUME_NOT_FOUND = "ModelVolumeNotFound"
"""Reason of ModelReady, Ready and Degraded while a pvc:// or configmap:// model's volume does not exist."""

Status = Literal["True", "False", "Unknown"]
Severity = Literal["Normal", "Warning"]

WARNING_WHEN: Mapping[str, Status | None] = {
    READY: None,
    # Ready is the summary, never a Warning itself: False also means "rolling out" or "suspended as asked";
    # when something needs a person, the condition that names it (a Tenant part, Degraded) is the Warning.
    NAMESPACES_READY: "False",
    DATABASE_READY: "False",
    CACHE_READY: "False",
    CREDENTIALS_READY: "False",
    DEGRADED: "True",
    PROGRESSING: None,  # a rollout starting or finishing is news, not trouble
    AUTOSCALING: None,  # which autoscaler acts is information (KedaNotInstalled still scales)
    MODEL_READY: "False",  # a model that cannot be loaded (unreachable, digest mismatch, invalid, too large)
}
"""Per condition type, the status whose transitions are Warning Events (None: never a Warning)."""


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


def severity(cond: Condition) -> Severity:
    """The type of the Event announcing a transition into `cond` (a type not in `WARNING_WHEN`: Normal)."""
    return "Warning" if WARNING_WHEN.get(cond.type) == cond.status else "Normal"


def needs_attention(reason: str, message: str) -> list[Condition]:
    """Not Ready, and Degraded for the same reason: something a person must fix or wait for (the Degraded
    transition is the Warning Event). Used by the kinds that have a Degraded condition."""
    return [failed(READY, reason, message), ok(DEGRADED, reason, message)]


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


def tenant_parts_waiting(why: str) -> list[Condition]:
    """The parts after NamespacesReady, not attempted because an earlier step failed."""
    return [
        failed(kind, "Waiting", f"not provisioned: {why}")
        for kind in (DATABASE_READY, CACHE_READY, CREDENTIALS_READY)
    ]


def deletion_blocked(part: str, error: str) -> list[Condition]:
    """A Tenant's finalizer waits on `part` (DatabaseReady or CacheReady): both it and Ready say why."""
    message = f"deletion waits until PostgreSQL and Redis answer: {error}"
    return [failed(READY, "DeletionBlocked", message), failed(part, "DeletionBlocked", message)]


def deletion_waits_for_workloads(left: int) -> list[Condition]:
    """A Tenant's finalizer waits until the Engines, WorkerPools and VectorIndexes in its namespaces are gone
    (their own finalizers reclaim what they hold while the tenant is still known)."""
    message = f"deletion waits for {left} Engine, WorkerPool or VectorIndex object(s) in its namespaces to go"
    return [failed(READY, "DeletingWorkloads", message)]


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


def no_tenant(namespace: str, why: str) -> list[Condition]:
    return needs_attention(
        "NoTenant",
        f"namespace {namespace} {why}; a VectorIndex must live in a namespace of a Tenant "
        "(labelled neuroedge.io/tenant by the Tenant reconciler)",
    )


def tenant_not_provisioned(tenant: str, missing: str) -> list[Condition]:
    return needs_attention("TenantNotReady", f"tenant {tenant} has no {missing} yet; waiting for the Tenant")


def backend_unavailable(backend: str, why: str) -> list[Condition]:
    return needs_attention("BackendUnavailable", f"backend {backend}: {why}")


def backend_error(error: str) -> list[Condition]:
    return needs_attention("BackendError", error)


def invalid_vector_spec(message: str) -> list[Condition]:
    return needs_attention("InvalidSpec", message)


def embedding_mismatch(message: str) -> list[Condition]:
    return needs_attention("EmbeddingDimensionMismatch", f"{message}; nothing was created")


def embedding_secret_missing(message: str) -> list[Condition]:
    return needs_attention("EmbeddingSecretMissing", message)


def vector_deletion_blocked(error: str) -> list[Condition]:
    return needs_attention("DeletionBlocked", f"deletion waits: {error}")


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


def model_builtin() -> Condition:
    """A predictive Engine without spec.model: its built-in linear/logistic model needs no loading."""
    return ok(MODEL_READY, "BuiltIn", "no spec.model: the engine uses its built-in linear/logistic model")


def model_loaded(sha256: str, instances: int) -> Condition:
    """The runtime loaded the Engine's model."""
    return ok(MODEL_READY, "Loaded", f"model sha256 {sha256} loaded by {instances} runtime instance(s)")


def model_loading(uri: str) -> Condition:
    """No runtime instance has reported on the Engine's current model yet."""
    return Condition(MODEL_READY, "Unknown", "Loading", f"no runtime instance has reported loading {uri} yet")


def model_volume_not_found(message: str) -> Condition:
    """The claim or ConfigMap a pvc:// or configmap:// model is on does not exist in the Engine's namespace
    (plan/model_volumes.py words the message)."""
    return failed(MODEL_READY, MODEL_VOLUME_NOT_FOUND, message)


def model_failed(reason: str, message: str) -> Condition:
    """The runtime could not load the model: Unreachable, DigestMismatch, InvalidModel, TooLarge, ..."""
    return failed(MODEL_READY, reason, message)


def invalid_workload_spec(message: str) -> list[Condition]:
    """An Engine or WorkerPool the operator refuses to build: nothing is written until the spec is fixed."""
    return needs_attention("InvalidSpec", message)


def workload_no_tenant(kind: str, namespace: str, why: str) -> list[Condition]:
    message = (
        f"namespace {namespace} {why}; an {kind} must live in a namespace of a Tenant "
        "(labelled neuroedge.io/tenant by the Tenant reconciler)"
    )
    return needs_attention("NoTenant", message)


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
