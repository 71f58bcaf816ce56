"""Conditions `Ready`, `Progressing` and `Degraded` of an Engine or WorkerPool, from what the cluster reports.

Why from the cluster and not from what we applied: users wait on these (`kubectl wait --for=condition=Ready`),
so Ready means the pods of the current spec are available, not that a PATCH succeeded. The reason names the
cause a user can act on, taken from the most specific source: a pod's waiting container (ImagePullBackOff,
CrashLoopBackOff, CreateContainerConfigError), an unschedulable pod, the ReplicaSet's or Deployment's
ReplicaFailure (QuotaExceeded when its message says "exceeded quota"), a rollout past its deadline.

Rules:
- Ready is True only when the rollout of the current spec is complete and every wanted replica is available
  (zero wanted replicas, e.g. an idle pool, is Ready with reason ScaledToZero); a blocker such as a missing
  reference makes it False whatever the pods do. During a rollout it is False (RollingOut), so a `kubectl
  wait` after a change waits for the new pods.
- Progressing is True while a rollout is under way, False once it is complete (or suspended).
- Degraded is True when something needs a person: a failing pod, a failed replica creation, a blocker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neuroedge_operator.resources import conditions

READY = conditions.READY
PROGRESSING = conditions.PROGRESSING
DEGRADED = conditions.DEGRADED

AVAILABLE = "Available"
SCALED_TO_ZERO = "ScaledToZero"
ROLLING_OUT = "RollingOut"
CREATING = "Creating"
SUSPENDED = "Suspended"
AS_EXPECTED = "AsExpected"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
UNSCHEDULABLE = "Unschedulable"
REPLICA_FAILURE = "ReplicaFailure"
QUOTA_EXCEEDED = "QuotaExceeded"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
MISSING_REFERENCE = "MissingReference"

_WAITING_REASONS = {
    "ImagePullBackOff": IMAGE_PULL_BACK_OFF,
    "ErrImagePull": IMAGE_PULL_BACK_OFF,
    "InvalidImageName": IMAGE_PULL_BACK_OFF,
    "CrashLoopBackOff": CRASH_LOOP_BACK_OFF,
    "CreateContainerConfigError": CONTAINER_CONFIG_ERROR,
    "CreateContainerError": CONTAINER_CONFIG_ERROR,
}

Condition = conditions.Condition
"""The operator's one condition type: handlers pass these straight to `conditions.merge`/`transitions`."""


@dataclass(frozen=True)
class Blocker:
    """Something outside the Deployment that keeps the object from being Ready (a missing reference, an
    unreachable queue); `reason` is CamelCase, `message` names what is missing."""

    reason: str
    message: str


@dataclass(frozen=True)
class Problem:
    """Why pods are not coming up, as found in the cluster."""

    reason: str
    message: str


@dataclass(frozen=True)
class WorkloadStatus:
    """The conditions and the replica figures for status."""

    ready: Condition
    progressing: Condition
    degraded: Condition
    replicas: int
    ready_replicas: int

    @property
    def conditions(self) -> tuple[Condition, Condition, Condition]:
        return (self.ready, self.progressing, self.degraded)


@dataclass(frozen=True)
class Observed:
    """What the handler read: the Deployment (None when absent), its pods and ReplicaSets."""

    deployment: Mapping[str, Any] | None
    pods: Sequence[Mapping[str, Any]] = ()
    replica_sets: Sequence[Mapping[str, Any]] = ()


def _get(obj: Mapping[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _count(deployment: Mapping[str, Any], field: str) -> int:
    return int(_get(deployment, "status", field) or 0)


def rollout_complete(deployment: Mapping[str, Any], wanted: int) -> bool:
    """The Deployment controller has seen the current spec and every replica is updated and available, with
    no old replica left."""
    seen = int(_get(deployment, "status", "observedGeneration") or 0)
    generation = int(_get(deployment, "metadata", "generation") or 0)
    return (
        seen >= generation
        and _count(deployment, "updatedReplicas") >= wanted
        and _count(deployment, "availableReplicas") >= wanted
        and _count(deployment, "replicas") <= wanted
    )


def pod_problem(pods: Iterable[Mapping[str, Any]]) -> Problem | None:
    """The first pod problem a user can act on: a waiting container with a known reason, or unschedulable."""
    for pod in pods:
        found = _waiting(pod) or _unschedulable(pod)
        if found is not None:
            return found
    return None


def _waiting(pod: Mapping[str, Any]) -> Problem | None:
    statuses = [
        *(_get(pod, "status", "initContainerStatuses") or []),
        *(_get(pod, "status", "containerStatuses") or []),
    ]
    for status in statuses:
        waiting = _get(status, "state", "waiting") or {}
        reason = _WAITING_REASONS.get(str(waiting.get("reason", "")))
        if reason is not None:
            detail = waiting.get("message") or waiting.get("reason")
            return Problem(reason, f"pod {_get(pod, 'metadata', 'name')}: {detail}")
    return None


def _unschedulable(pod: Mapping[str, Any]) -> Problem | None:
    for cond in _get(pod, "status", "conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "Unschedulable":
            detail = cond.get("message") or "cannot be scheduled"
            return Problem(UNSCHEDULABLE, f"pod {_get(pod, 'metadata', 'name')}: {detail}")
    return None


def replica_failure(observed: Observed) -> Problem | None:
    """A ReplicaFailure condition (on a ReplicaSet, or copied onto the Deployment): pods cannot even be
    created, typically because the namespace's quota is exhausted."""
    owners = [*observed.replica_sets, *([observed.deployment] if observed.deployment else [])]
    for owner in owners:
        for cond in _get(owner, "status", "conditions") or []:
            if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                message = str(cond.get("message") or "pods could not be created")
                reason = QUOTA_EXCEEDED if "exceeded quota" in message else REPLICA_FAILURE
                return Problem(reason, message)
    return None


def deadline_exceeded(deployment: Mapping[str, Any]) -> Problem | None:
    for cond in _get(deployment, "status", "conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
            return Problem(PROGRESS_DEADLINE_EXCEEDED, str(cond.get("message") or "rollout is stuck"))
    return None


def problem(observed: Observed) -> Problem | None:
    """The most specific problem: pods first (they name the cause), then replica creation, then deadline."""
    deployment = observed.deployment
    found = pod_problem(observed.pods) or replica_failure(observed)
    return found or (deadline_exceeded(deployment) if deployment is not None else None)


def evaluate(
    observed: Observed, wanted: int, suspended: bool, blockers: Sequence[Blocker] = ()
) -> WorkloadStatus:
    """The conditions of an object that wants `wanted` replicas (0 when suspended)."""
    deployment = observed.deployment
    replicas = _count(deployment, "replicas") if deployment else 0
    ready_replicas = _count(deployment, "readyReplicas") if deployment else 0
    conditions = _conditions(observed, wanted, suspended, blockers)
    return WorkloadStatus(*conditions, replicas=replicas, ready_replicas=ready_replicas)


def _conditions(
    observed: Observed, wanted: int, suspended: bool, blockers: Sequence[Blocker]
) -> tuple[Condition, Condition, Condition]:
    if suspended:
        return _suspended(blockers)
    deployment = observed.deployment
    found = problem(observed)
    if deployment is None:
        progressing = Condition(PROGRESSING, "True", CREATING, "the Deployment is being created")
        ready = Condition(READY, "False", CREATING, "the Deployment does not exist yet")
    elif rollout_complete(deployment, wanted):
        progressing = Condition(PROGRESSING, "False", AVAILABLE, "the rollout is complete")
        ready = _available(wanted)
        found = None  # problems of pods being replaced no longer matter
    else:
        progressing = Condition(PROGRESSING, "True", ROLLING_OUT, _rollout_message(deployment, wanted))
        ready = Condition(
            READY, "False", found.reason if found else ROLLING_OUT, _rollout_message(deployment, wanted)
        )
    return _with_blockers(ready, blockers), progressing, _degraded(found, blockers)


def _suspended(blockers: Sequence[Blocker]) -> tuple[Condition, Condition, Condition]:
    message = "spec.suspend is true: scaled to zero, nothing deleted"
    return (
        Condition(READY, "False", SUSPENDED, message),
        Condition(PROGRESSING, "False", SUSPENDED, message),
        _degraded(None, blockers),
    )


def _available(wanted: int) -> Condition:
    if wanted == 0:
        return Condition(READY, "True", SCALED_TO_ZERO, "no replica is wanted")
    return Condition(READY, "True", AVAILABLE, f"{wanted} replica(s) of the current spec are available")


def _rollout_message(deployment: Mapping[str, Any], wanted: int) -> str:
    updated, available = _count(deployment, "updatedReplicas"), _count(deployment, "availableReplicas")
    return f"{updated} of {wanted} replica(s) updated, {available} available"


def _with_blockers(ready: Condition, blockers: Sequence[Blocker]) -> Condition:
    if not blockers:
        return ready
    return Condition(READY, "False", blockers[0].reason, "; ".join(b.message for b in blockers))


def _degraded(found: Problem | None, blockers: Sequence[Blocker]) -> Condition:
    if blockers:
        return Condition(DEGRADED, "True", blockers[0].reason, "; ".join(b.message for b in blockers))
    if found is not None:
        return Condition(DEGRADED, "True", found.reason, found.message)
    return Condition(DEGRADED, "False", AS_EXPECTED, "no problem found")
