"""The operator's traces in a real Jaeger: a Tenant's reconcile is one span (kind, name, outcome) whose
children are the pass's Kubernetes API calls, SQL statements and Redis ACL calls. The operator is the real
process, configured by OTEL_* variables only."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tenant_operator_process as operator_process
from jaeger_process import Jaeger
from operator_helpers import apply_tenant, kubectl, wait_ready


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
    env = {
        "KUBECONFIG": str(kubeconfig),
        "NEUROEDGE_DATABASE_URL": database_url,
        "NEUROEDGE_REDIS_URL": redis_url,
        "NEUROEDGE_RESYNC_INTERVAL": "60",
        "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint,
        "OTEL_SERVICE_NAME": service,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    operator = operator_process.OperatorProcess(env, tmp_path / "operator.log")
    operator.start()
    name = f"traced-{uuid.uuid4().hex[:6]}"
    try:
        apply_tenant(kubeconfig, name, {})
        wait_ready(kubeconfig, name)
        deadline, spans = time.monotonic() + 30, []
        while time.monotonic() < deadline:
            for found in await asyncio.to_thread(jaeger.traces, service):
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
        operator.stop()

    assert _parent(reconcile) is None and _tags(reconcile)["neuroedge.kind"] == "Tenant"
    children = [s for s in spans if _parent(s) == reconcile["spanID"]]
    systems = {_tags(s).get("db.system.name") or _tags(s).get("db.system") for s in children}
    assert {"postgresql", "redis"} <= systems, systems
    api_calls = [s for s in children if "http.request.method" in _tags(s) or "http.method" in _tags(s)]
    assert api_calls, "no Kubernetes API call under the reconcile span"
