"""Ready / Progressing / Degraded from observed Deployments, pods and ReplicaSets, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from neuroedge_operator.plan import workload_status as ws


def deployment(
    replicas: int = 2,
    updated: int = 2,
    ready: int = 2,
    available: int = 2,
    generation: int = 3,
    observed: int = 3,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": "engine-x", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": conditions or [],
        },
    }


def pod_waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": "engine-x-abc"},
        "status": {
            "containerStatuses": [
                {"name": "runtime", "state": {"waiting": {"reason": reason, "message": message}}}
            ]
        },
    }


def replica_set_failure(message: str) -> dict[str, Any]:
    cond = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate", "message": message}
    return {"metadata": {"name": "engine-x-123"}, "status": {"conditions": [cond]}}


QUOTA_MESSAGE = (
    'pods "engine-x-123-a" is forbidden: exceeded quota: neuroedge-quota, '
    "requested: cpu=1, used: cpu=4, limited: cpu=4"
)
UNSCHEDULABLE_POD = {
    "metadata": {"name": "engine-x-def"},
    "status": {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available",
            }
        ],
    },
}

# name: (observed, wanted, suspended, blockers, (ready, reason), (progressing, reason), (degraded, reason))
CASES: dict[
    str, tuple[ws.Observed, int, bool, list[ws.Blocker], tuple[str, str], tuple[str, str], tuple[str, str]]
] = {
    "available": (
        ws.Observed(deployment()),
        2,
        False,
        [],
        ("True", "Available"),
        ("False", "Available"),
        ("False", "AsExpected"),
    ),
    "not created yet": (
        ws.Observed(None),
        2,
        False,
        [],
        ("False", "Creating"),
        ("True", "Creating"),
        ("False", "AsExpected"),
    ),
    "rolling out": (
        ws.Observed(deployment(replicas=3, updated=1, available=2)),
        2,
        False,
        [],
        ("False", "RollingOut"),
        ("True", "RollingOut"),
        ("False", "AsExpected"),
    ),
    "controller has not seen the new spec": (
        ws.Observed(deployment(generation=4, observed=3)),
        2,
        False,
        [],
        ("False", "RollingOut"),
        ("True", "RollingOut"),
        ("False", "AsExpected"),
    ),
    "scaling up": (
        ws.Observed(deployment(replicas=2, updated=2, available=2)),
        4,
        False,
        [],
        ("False", "RollingOut"),
        ("True", "RollingOut"),
        ("False", "AsExpected"),
    ),
    "image pull back-off": (
        ws.Observed(
            deployment(updated=1, available=1, ready=1),
            pods=[pod_waiting("ImagePullBackOff", "Back-off pulling image")],
        ),
        2,
        False,
        [],
        ("False", "ImagePullBackOff"),
        ("True", "RollingOut"),
        ("True", "ImagePullBackOff"),
    ),
    "err image pull counts as image pull back-off": (
        ws.Observed(deployment(available=0), pods=[pod_waiting("ErrImagePull")]),
        2,
        False,
        [],
        ("False", "ImagePullBackOff"),
        ("True", "RollingOut"),
        ("True", "ImagePullBackOff"),
    ),
    "crash loop": (
        ws.Observed(deployment(available=0, ready=0), pods=[pod_waiting("CrashLoopBackOff")]),
        2,
        False,
        [],
        ("False", "CrashLoopBackOff"),
        ("True", "RollingOut"),
        ("True", "CrashLoopBackOff"),
    ),
    "missing secret key": (
        ws.Observed(
            deployment(available=0), pods=[pod_waiting("CreateContainerConfigError", 'secret "x" not found')]
        ),
        2,
        False,
        [],
        ("False", "CreateContainerConfigError"),
        ("True", "RollingOut"),
        ("True", "CreateContainerConfigError"),
    ),
    "quota exceeded on the replica set": (
        ws.Observed(
            deployment(replicas=1, updated=1, available=1), replica_sets=[replica_set_failure(QUOTA_MESSAGE)]
        ),
        2,
        False,
        [],
        ("False", "QuotaExceeded"),
        ("True", "RollingOut"),
        ("True", "QuotaExceeded"),
    ),
    "other replica failure on the deployment": (
        ws.Observed(
            deployment(
                available=0,
                conditions=[
                    {"type": "ReplicaFailure", "status": "True", "message": "admission webhook denied"}
                ],
            )
        ),
        2,
        False,
        [],
        ("False", "ReplicaFailure"),
        ("True", "RollingOut"),
        ("True", "ReplicaFailure"),
    ),
    "unschedulable": (
        ws.Observed(deployment(available=1), pods=[UNSCHEDULABLE_POD]),
        2,
        False,
        [],
        ("False", "Unschedulable"),
        ("True", "RollingOut"),
        ("True", "Unschedulable"),
    ),
    "progress deadline exceeded": (
        ws.Observed(
            deployment(
                updated=1,
                conditions=[{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
            )
        ),
        2,
        False,
        [],
        ("False", "ProgressDeadlineExceeded"),
        ("True", "RollingOut"),
        ("True", "ProgressDeadlineExceeded"),
    ),
    "complete rollout ignores old pods' problems": (
        ws.Observed(deployment(), pods=[pod_waiting("CrashLoopBackOff")]),
        2,
        False,
        [],
        ("True", "Available"),
        ("False", "Available"),
        ("False", "AsExpected"),
    ),
    "scaled to zero is ready": (
        ws.Observed(deployment(replicas=0, updated=0, ready=0, available=0)),
        0,
        False,
        [],
        ("True", "ScaledToZero"),
        ("False", "Available"),
        ("False", "AsExpected"),
    ),
    "suspended": (
        ws.Observed(deployment(replicas=1, updated=1, ready=1, available=1)),
        0,
        True,
        [],
        ("False", "Suspended"),
        ("False", "Suspended"),
        ("False", "AsExpected"),
    ),
    "missing reference beats available pods": (
        ws.Observed(deployment()),
        2,
        False,
        [ws.Blocker("MissingReference", "WorkerPool 'general' (spec.workerPoolRef) does not exist")],
        ("False", "MissingReference"),
        ("False", "Available"),
        ("True", "MissingReference"),
    ),
    "suspended with a missing reference is still degraded": (
        ws.Observed(None),
        0,
        True,
        [ws.Blocker("MissingReference", "Secret 'm' (spec.modelRef) does not exist")],
        ("False", "Suspended"),
        ("False", "Suspended"),
        ("True", "MissingReference"),
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_conditions(case: Any) -> None:
    observed, wanted, suspended, blockers, ready, progressing, degraded = case
    result = ws.evaluate(observed, wanted, suspended, blockers)
    assert (result.ready.type, result.progressing.type, result.degraded.type) == (
        "Ready",
        "Progressing",
        "Degraded",
    )
    assert (result.ready.status, result.ready.reason) == ready
    assert (result.progressing.status, result.progressing.reason) == progressing
    assert (result.degraded.status, result.degraded.reason) == degraded
    assert all(c.message for c in result.conditions)


def test_replica_figures_come_from_the_deployment() -> None:
    result = ws.evaluate(ws.Observed(deployment(replicas=3, updated=1, ready=2, available=2)), 3, False)
    assert (result.replicas, result.ready_replicas) == (3, 2)
    assert (
        ws.evaluate(ws.Observed(None), 1, False).replicas,
        ws.evaluate(ws.Observed(None), 1, False).ready_replicas,
    ) == (0, 0)


def test_messages_name_the_pod_and_the_cause() -> None:
    observed = ws.Observed(
        deployment(available=0), pods=[pod_waiting("ImagePullBackOff", 'Back-off pulling image "x:1"')]
    )
    degraded = ws.evaluate(observed, 2, False).degraded
    assert degraded.message == 'pod engine-x-abc: Back-off pulling image "x:1"'
    quota = ws.evaluate(
        ws.Observed(deployment(available=0), replica_sets=[replica_set_failure(QUOTA_MESSAGE)]), 2, False
    )
    assert "exceeded quota: neuroedge-quota" in quota.degraded.message


def test_all_blockers_are_named_in_ready() -> None:
    blockers = [
        ws.Blocker("MissingReference", "WorkerPool 'a' missing"),
        ws.Blocker("MissingReference", "Secret 'b' missing"),
    ]
    ready = ws.evaluate(ws.Observed(deployment()), 2, False, blockers).ready
    assert ready.message == "WorkerPool 'a' missing; Secret 'b' missing"


def test_init_container_problems_count_too() -> None:
    pod = {
        "metadata": {"name": "p"},
        "status": {
            "initContainerStatuses": [{"state": {"waiting": {"reason": "ErrImagePull"}}}],
            "containerStatuses": [],
        },
    }
    assert ws.pod_problem([pod]) == ws.Problem("ImagePullBackOff", "pod p: ErrImagePull")


def test_unknown_waiting_reasons_are_not_problems() -> None:
    assert ws.pod_problem([pod_waiting("ContainerCreating"), pod_waiting("PodInitializing")]) is None
