"""The operator's replica gauges (behind the "pool at max replicas" alert) follow record and forget, and its
tracing obeys the same OTEL_* rules as the runtime's."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from neuroedge_operator import metrics, tracing
from neuroedge_operator.reconcile import status
from neuroedge_queue import telemetry


def _gauge(name: str, namespace: str, pool: str) -> float | None:
    labels = {"kind": "WorkerPool", "namespace": namespace, "name": pool}
    return REGISTRY.get_sample_value(name, labels)


def test_replicas_and_maximum_are_exported_then_forgotten() -> None:
    census = metrics.ConditionCensus("WorkerPool")
    census.record_replicas("acme/general", 3, 5)
    assert _gauge("neuroedge_operator_workload_replicas", "acme", "general") == 3
    assert _gauge("neuroedge_operator_workload_max_replicas", "acme", "general") == 5
    census.forget("acme/general")
    assert _gauge("neuroedge_operator_workload_replicas", "acme", "general") is None
    assert _gauge("neuroedge_operator_workload_max_replicas", "acme", "general") is None
    census.forget("acme/never-recorded")  # no error for an object that never reported replicas


def test_operator_tracing_is_off_without_otel_settings_and_refuses_grpc() -> None:
    off = telemetry.Settings.from_env({}, tracing.SERVICE_NAME)
    assert off == telemetry.Settings(enabled=False)
    assert tracing.install(off) is None
    assert tracing.client_trace_configs() == []
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    on = telemetry.Settings.from_env(endpoint, tracing.SERVICE_NAME)
    assert on == telemetry.Settings(True, "otlp", "neuroedge-operator")
    grpc = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(telemetry.TracingConfigError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        telemetry.Settings.from_env(grpc, tracing.SERVICE_NAME)


@pytest.mark.parametrize(
    ("kind", "spec", "maximum"),
    [
        ("WorkerPool", {"maxReplicas": 7, "replicas": 2}, 7),
        ("WorkerPool", {}, 100),  # the CRD's default maxReplicas
        ("Engine", {"replicas": 3}, 3),  # an Engine does not scale: its spec's replicas
        ("Engine", {}, 1),
    ],
)
def test_the_maximum_a_workload_may_scale_to(kind: str, spec: dict[str, int], maximum: int) -> None:
    assert status.max_replicas(kind, {"spec": spec}) == maximum


def _objects(kind: str, condition: str, status: str) -> float | None:
    labels = {"kind": kind, "condition": condition, "status": status}
    return REGISTRY.get_sample_value("neuroedge_operator_objects", labels)


def test_condition_counts_follow_changes_and_forgetting() -> None:
    census = metrics.ConditionCensus("CensusKind")
    ready = [{"type": "Ready", "status": "True"}, {"type": "Degraded", "status": "False"}]
    census.record("a", ready)
    census.record("b", ready)
    census.record("b", ready)  # the same again: still two objects
    assert _objects("CensusKind", "Ready", "True") == 2
    census.record("a", [{"type": "Ready", "status": "False"}])  # a changed and lost Degraded
    assert _objects("CensusKind", "Ready", "True") == 1
    assert _objects("CensusKind", "Ready", "False") == 1
    assert _objects("CensusKind", "Degraded", "False") == 1
    census.forget("b")
    census.forget("never-recorded")
    assert _objects("CensusKind", "Ready", "True") == 0
    assert _objects("CensusKind", "Degraded", "False") == 0
    assert _objects("CensusKind", "Ready", "False") == 1
