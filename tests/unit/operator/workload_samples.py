"""Raw Engine and WorkerPool bodies as kopf hands them to the operator, for the workload unit tests."""

from __future__ import annotations

import copy
from typing import Any

from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model

CREATED = "2026-11-20T10:00:00Z"


def engine_body(**spec: Any) -> dict[str, Any]:
    """An Engine like crds/examples/engine.yaml; keyword arguments replace top-level spec fields."""
    body: dict[str, Any] = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "Engine",
        "metadata": {
            "name": "support-assistant",
            "namespace": "acme",
            "uid": "uid-engine-1",
            "generation": 3,
            "creationTimestamp": CREATED,
        },
        "spec": {
            "type": "conversation",
            "replicas": 2,
            "resources": {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": "1", "memory": "1Gi"},
            },
            "config": {"SYSTEM_PROMPT": "You are helpful.", "MAX_HISTORY_TURNS": "20"},
            "modelRef": {"name": "support-model"},
            "workerPoolRef": {"name": "general"},
            "schedules": [
                {"name": "nightly-summary", "cron": "0 2 * * *", "input": {"task": "summarize"}},
                {"name": "kb-refresh", "cron": "*/30 8-18 * * MON-FRI", "input": {"sources": ["docs"]}},
            ],
            "suspend": False,
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    return body


def pool_body(**spec: Any) -> dict[str, Any]:
    """A WorkerPool like crds/examples/workerpool.yaml; keyword arguments replace top-level spec fields."""
    body: dict[str, Any] = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "WorkerPool",
        "metadata": {
            "name": "general",
            "namespace": "acme",
            "uid": "uid-pool-1",
            "generation": 1,
            "creationTimestamp": CREATED,
        },
        "spec": {
            "replicas": 2,
            "minReplicas": 1,
            "maxReplicas": 10,
            "concurrency": 8,
            "engines": ["support-assistant"],
            "queue": {
                "maxDeliveries": 5,
                "claimIdleSeconds": 30,
                "retryBackoff": {"initialSeconds": 2, "maxSeconds": 300},
            },
            "autoscaling": {
                "enabled": True,
                "targetLagPerReplica": 100,
                "cooldownSeconds": 60,
                "scaleDownStep": 1,
            },
            "resources": {
                "requests": {"cpu": "250m", "memory": "512Mi"},
                "limits": {"cpu": "2", "memory": "2Gi"},
            },
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    return body


def engine(**spec: Any) -> engine_model.Engine:
    return engine_model.parse(engine_body(**spec))


def pool(**spec: Any) -> pool_model.WorkerPool:
    return pool_model.parse(pool_body(**spec))
