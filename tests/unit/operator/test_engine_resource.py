"""Engine bodies parse into typed models with the CRD's defaults; bad specs fail with field paths."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workload


def test_example_engine_parses_with_camel_case_fields() -> None:
    engine = samples.engine()
    assert engine.name == "support-assistant" and engine.namespace == "acme"
    assert engine.meta.created == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert engine.spec.type == "conversation"
    assert engine.spec.worker_pool_ref is not None and engine.spec.worker_pool_ref.name == "general"
    assert engine.spec.model_ref is not None and engine.spec.model_ref.name == "support-model"
    assert engine.spec.resources.as_dict() == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert [s.name for s in engine.spec.schedules] == ["nightly-summary", "kb-refresh"]
    assert engine.spec.schedules[1].input == {"sources": ["docs"]}


def test_minimal_engine_gets_the_crd_defaults() -> None:
    body = samples.engine_body()
    body["spec"] = {"type": "predictive"}
    spec = engine_model.parse(body).spec
    assert (spec.replicas, spec.suspend, spec.image, spec.config, spec.schedules) == (1, False, None, {}, ())
    assert spec.resources.empty and spec.worker_pool_ref is None


def test_integer_quantities_are_kept_as_text() -> None:
    spec = samples.engine(resources={"limits": {"cpu": 2}}).spec
    assert spec.resources.as_dict() == {"limits": {"cpu": "2"}}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "oracle"}, "spec.type"),
        ({"replicas": -1}, "spec.replicas"),
        ({"replicas": 101}, "spec.replicas"),
        (
            {"resources": {"limits": {"cpu": "lots"}}},
            "spec.resources.limits.cpu: 'lots' is not a Kubernetes quantity",
        ),
        ({"resources": {"requests": {"memory": True}}}, "spec.resources.requests.memory"),
        ({"config": {"A": 1}}, "spec.config.A"),
        ({"schedules": [{"name": "x", "cron": "not a cron"}]}, "spec.schedules.0.cron"),
        ({"schedules": [{"name": "x", "cron": "0 0 * * * *"}]}, "must have five fields"),
        ({"schedules": [{"name": "x", "cron": "@reboot"}]}, "is not one of"),
        ({"schedules": [{"name": "Bad_Name", "cron": "@daily"}]}, "spec.schedules.0.name"),
        (
            {"schedules": [{"name": "a", "cron": "@daily"}, {"name": "a", "cron": "@hourly"}]},
            "schedule names must be unique: a",
        ),
        (
            {"workerPoolRef": None, "schedules": [{"name": "a", "cron": "@daily"}]},
            "schedules need a workerPoolRef",
        ),
        ({"workerPoolRef": {"name": ""}}, "spec.workerPoolRef.name"),
    ],
)
def test_bad_specs_are_refused_with_the_field_path(spec: dict[str, Any], expected: str) -> None:
    with pytest.raises(workload.InvalidResourceError, match=expected.replace(".", r"\.").replace("(", r"\(")):
        samples.engine(**spec)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(workload.InvalidResourceError) as info:
        samples.engine(type="oracle", replicas=-1)
    assert "spec.type" in str(info.value) and "spec.replicas" in str(info.value)


@pytest.mark.parametrize(
    ("name", "namespace"), [("Upper", "acme"), ("a" * 64, "acme"), ("", "acme"), ("ok", "")]
)
def test_bad_identity_is_refused(name: str, namespace: str) -> None:
    body = samples.engine_body()
    body["metadata"].update(name=name, namespace=namespace)
    with pytest.raises(workload.InvalidResourceError):
        engine_model.parse(body)


def test_status_round_trips_with_rfc3339_times() -> None:
    body = samples.engine_body()
    body["status"] = {
        "observedGeneration": 2,
        "replicas": 2,
        "readyReplicas": 1,
        "endpoint": "http://support-assistant.acme.svc:8080",
        "lastSchedules": [
            {"name": "nightly-summary", "lastEnqueuedTime": "2026-11-21T02:00:00Z", "lastJobId": "J"},
            {"name": "kb-refresh"},
        ],
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    status = engine_model.parse(body).status
    assert status.last_enqueued() == {"nightly-summary": datetime(2026, 11, 21, 2, tzinfo=UTC)}
    assert status.body() == body["status"]


def test_unreadable_status_is_rebuilt_not_fatal() -> None:
    body = samples.engine_body()
    body["status"] = {"lastSchedules": [{"name": "x", "lastEnqueuedTime": "yesterday"}]}
    assert engine_model.parse(body).status == engine_model.EngineStatus()
