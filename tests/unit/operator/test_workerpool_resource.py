"""WorkerPool bodies parse into typed models with the CRD's defaults; bad specs fail with field paths."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator.resources import workerpool as pool_model
from neuroedge_operator.resources import workload


def test_example_pool_parses_with_camel_case_fields() -> None:
    spec = samples.pool().spec
    assert (spec.replicas, spec.min_replicas, spec.max_replicas, spec.concurrency) == (2, 1, 10, 8)
    assert spec.engines == ("support-assistant",)
    assert spec.queue.retry_backoff.initial_seconds == 2 and spec.queue.claim_idle_seconds == 30
    assert spec.autoscaling.enabled and spec.autoscaling.target_lag_per_replica == 100
    assert not spec.autoscaling.keda


def test_empty_pool_gets_the_crd_defaults() -> None:
    body = samples.pool_body()
    body["spec"] = {}
    spec = pool_model.parse(body).spec
    assert (spec.replicas, spec.min_replicas, spec.max_replicas, spec.concurrency) == (None, 0, 100, 8)
    assert (spec.queue.max_deliveries, spec.queue.claim_idle_seconds) == (5, 30)
    assert (spec.queue.retry_backoff.initial_seconds, spec.queue.retry_backoff.max_seconds) == (1, 300)
    scaling = spec.autoscaling
    assert (scaling.enabled, scaling.target_lag_per_replica, scaling.cooldown_seconds) == (False, 100, 60)
    assert (scaling.scale_down_step, scaling.keda, spec.suspend) == (1, False, False)
    assert spec.desired_replicas == 1


@pytest.mark.parametrize(
    ("spec", "desired"),
    [
        ({"replicas": None}, 1),
        ({"replicas": 0, "minReplicas": 0}, 0),
        ({"replicas": 7}, 7),
        ({"replicas": None, "minReplicas": 3}, 3),
    ],
)
def test_desired_replicas_is_spec_replicas_within_bounds(spec: dict[str, Any], desired: int) -> None:
    assert samples.pool(**spec).spec.desired_replicas == desired


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"minReplicas": 5, "maxReplicas": 2, "replicas": 3}, "minReplicas (5) exceeds maxReplicas (2)"),
        ({"replicas": 11}, "replicas (11) must be within"),
        ({"replicas": 0}, "replicas (0) must be within"),
        ({"concurrency": 0}, "spec.concurrency"),
        ({"engines": ["a", "a"]}, "engines must not repeat"),
        ({"queue": {"retryBackoff": {"initialSeconds": 10, "maxSeconds": 5}}}, "initialSeconds must be less"),
        ({"queue": {"maxDeliveries": 0}}, "spec.queue.maxDeliveries"),
        ({"autoscaling": {"enabled": False, "keda": True}}, "keda requires enabled"),
        ({"autoscaling": {"targetLagPerReplica": 0}}, "spec.autoscaling.targetLagPerReplica"),
        ({"resources": {"requests": {"cpu": "-1"}}}, "spec.resources.requests.cpu"),
    ],
)
def test_bad_specs_are_refused_with_the_field_path(spec: dict[str, Any], expected: str) -> None:
    with pytest.raises(workload.InvalidResourceError) as info:
        samples.pool(**spec)
    assert expected in str(info.value)


def test_status_round_trips() -> None:
    body = samples.pool_body()
    body["status"] = {
        "observedGeneration": 1,
        "replicas": 2,
        "readyReplicas": 2,
        "selector": "app.kubernetes.io/component=worker,neuroedge.io/workerpool=general",
        "queue": {"length": 10, "lag": 4, "pending": 3, "deadLettered": 1},
        "lastScaleTime": "2026-11-21T05:00:00Z",
        "conditions": [],
    }
    status = pool_model.parse(body).status
    assert status.last_scale_time == datetime(2026, 11, 21, 5, tzinfo=UTC)
    assert status.queue is not None and status.queue.dead_lettered == 1
    assert status.body() == body["status"]
