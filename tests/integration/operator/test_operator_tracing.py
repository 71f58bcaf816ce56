"""The operator's traces in a real Jaeger: a Tenant's reconcile is one span (kind, name, outcome) whose
children are the pass's Kubernetes API calls, SQL statements and Redis ACL calls. The operator is the real
process, configured by OTEL_* variables only, and the runtime Deployments it generates carry the same
configuration (service name per component, the owner as resource attributes, never the exporter headers)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import operator_helpers
import pytest
from jaeger_process import Jaeger
from operator_helpers import apply_tenant, eventually, exists, get, kubectl, wait_ready


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    backend = Jaeger(tmp_path_factory.mktemp("jaeger"))
    backend.start()
    yield backend
    backend.stop()


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span.get("tags", [])}


def _parent(span: dict[str, Any]) -> str | None:
    refs = [r for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
    return refs[0]["spanID"] if refs else None


async def test_a_tenant_reconcile_is_one_span_with_api_sql_and_redis_children(
    jaeger: Jaeger, kubeconfig: Path, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    service = f"operator-{uuid.uuid4().hex[:6]}"
    env = operator_helpers.operator_env(
        kubeconfig,
        database_url,
        redis_url,
        NEUROEDGE_RESYNC_INTERVAL="60",
        OTEL_EXPORTER_OTLP_ENDPOINT=jaeger.otlp_endpoint,
        OTEL_SERVICE_NAME=service,
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    with operator_helpers.running_operator(env, tmp_path / "operator.log") as operator:
        name = f"traced-{uuid.uuid4().hex[:6]}"
        try:
            apply_tenant(kubeconfig, name, {})
            wait_ready(kubeconfig, name)
            deadline, spans = time.monotonic() + 30, []
            while time.monotonic() < deadline:
                # Filtered by the tenant: an operator resuming many objects at startup makes more than the
                # 100 newest traces a plain query returns.
                found_traces = await asyncio.to_thread(
                    jaeger.traces, service, "reconcile Tenant", {"neuroedge.name": name}
                )
                for found in found_traces:
                    ready = [
                        s
                        for s in found["spans"]
                        if s["operationName"] == "reconcile Tenant"
                        and _tags(s).get("neuroedge.name") == name
                        and _tags(s).get("neuroedge.outcome") == "ready"
                    ]
                    if ready:
                        spans, reconcile = found["spans"], ready[0]
                        break
                if spans:
                    break
                await asyncio.sleep(0.3)
            assert spans, f"no ready reconcile of {name} in Jaeger\n{operator.log_tail()}"
        finally:
            kubectl(kubeconfig, "delete", "tenant", name, "--wait=false")

    assert _parent(reconcile) is None and _tags(reconcile)["neuroedge.kind"] == "Tenant"
    children = [s for s in spans if _parent(s) == reconcile["spanID"]]
    systems = {_tags(s).get("db.system.name") or _tags(s).get("db.system") for s in children}
    assert {"postgresql", "redis"} <= systems, systems
    api_calls = [s for s in children if "http.request.method" in _tags(s) or "http.method" in _tags(s)]
    assert api_calls, "no Kubernetes API call under the reconcile span"


def _otel_env(kubeconfig: Path, deployment: str, namespace: str) -> dict[str, str] | None:
    """The OTEL_* variables of a generated Deployment's runtime container; None while it does not exist."""
    if not exists(kubeconfig, "deployment", deployment, "-n", namespace):
        return None
    pod = get(kubeconfig, "deployment", deployment, "-n", namespace)["spec"]["template"]["spec"]
    env = pod["containers"][0]["env"]
    return {e["name"]: e.get("value") for e in env if e["name"].startswith("OTEL_")}


async def test_the_runtime_deployments_inherit_the_operators_tracing(
    jaeger: Jaeger, kubeconfig: Path, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = operator_helpers.operator_env(
        kubeconfig,
        database_url,
        redis_url,
        NEUROEDGE_RESYNC_INTERVAL="60",
        NEUROEDGE_RUNTIME_IMAGE="neuroedge/runtime:test",
        OTEL_EXPORTER_OTLP_ENDPOINT=jaeger.otlp_endpoint,
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0.25",
        OTEL_SERVICE_NAME="neuroedge-operator-under-test",
        OTEL_RESOURCE_ATTRIBUTES="service.name=ignored,k8s.cluster.name=test",
        OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer collector-secret",
    )
    with operator_helpers.running_operator(env, tmp_path / "operator.log"):
        tenant = f"traced-{uuid.uuid4().hex[:6]}"
        pool, engine = "general", "scorer"
        try:
            apply_tenant(kubeconfig, tenant, {})
            wait_ready(kubeconfig, tenant)
            for kind, name, spec in (
                ("WorkerPool", pool, {"replicas": 1, "maxReplicas": 2, "engines": [engine]}),
                ("Engine", engine, {"type": "predictive", "replicas": 1, "workerPoolRef": {"name": pool}}),
            ):
                body = {"apiVersion": "neuroedge.io/v1alpha1", "kind": kind, "metadata": {"name": name}}
                manifest = json.dumps({**body, "spec": spec})
                kubectl(kubeconfig, "apply", "-n", tenant, "-f", "-", input_text=manifest)
            found = {
                deployment: await eventually(
                    lambda d=deployment: _otel_env(kubeconfig, d, tenant), what=f"deployment {deployment}"
                )
                for deployment in (f"engine-{engine}", f"workerpool-{pool}")
            }
        finally:
            kubectl(kubeconfig, "delete", "tenant", tenant, "--wait=false")

    for deployment, component, owner in (
        (f"engine-{engine}", "api", f"neuroedge.engine={engine}"),
        (f"workerpool-{pool}", "worker", f"neuroedge.pool={pool}"),
    ):
        assert found[deployment] == {
            "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint,
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_RESOURCE_ATTRIBUTES": (
                f"k8s.cluster.name=test,k8s.namespace.name={tenant},neuroedge.tenant={tenant},{owner}"
            ),
            "OTEL_SERVICE_NAME": f"neuroedge-runtime-{component}",
        }, deployment
