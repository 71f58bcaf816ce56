"""End to end against a real Jaeger: a request that enqueues a job and the worker that runs it make one trace,
in which the API's server span has PostgreSQL and Redis children, the enqueue (queue) span is the API span's
child with its Redis call, and the worker's span for the job is the enqueue span's child. The API and the
worker are the real `neuroedge-runtime` processes, configured by OTEL_* variables only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from jaeger_process import Jaeger
from runtime_helpers import add_engine, bearer, create_user, login
from tenant_operator_process import free_port

NEUROEDGE_RUNTIME = Path(sys.executable).parent / "neuroedge-runtime"
MODEL = {"model": "logistic", "weights": {"tenure": -0.5, "tickets": 1.2}, "bias": 0.3}


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    backend = Jaeger(tmp_path_factory.mktemp("jaeger"))
    backend.start()
    yield backend
    backend.stop()


class Processes:
    """The runtime processes a test starts (stopped with SIGTERM at teardown, so they flush their spans)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, mode: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [str(NEUROEDGE_RUNTIME), mode], env={**os.environ, **env}, stdout=log, stderr=log
        )
        self.started.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.started:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    running = Processes(tmp_path)
    yield running
    running.stop()


async def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            assert proc.poll() is None, f"{what} exited with {proc.returncode}"
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"{what} did not answer {url}")


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span.get("tags", [])}


def _parent(span: dict[str, Any]) -> str | None:
    refs = [r for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
    return refs[0]["spanID"] if refs else None


def _children(spans: list[dict[str, Any]], parent: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in spans if _parent(s) == parent["spanID"]]


def _db_system(span: dict[str, Any]) -> str | None:
    tags = _tags(span)
    return tags.get("db.system.name") or tags.get("db.system")


async def _trace_of(jaeger: Jaeger, service: str, job_id: str, timeout: float = 30) -> dict[str, Any]:
    """The trace in Jaeger whose spans include the worker's span for `job_id` (once it arrived)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for found in await asyncio.to_thread(jaeger.traces, service):
            if any(_tags(s).get("messaging.message.id") == job_id for s in found["spans"]):
                return found
        await asyncio.sleep(0.3)
    pytest.fail(f"no trace of job {job_id} for service {service} in Jaeger")


async def test_request_queue_and_worker_spans_form_one_trace_in_jaeger(
    jaeger: Jaeger,
    processes: Processes,
    make_tenant: Any,
    admin_pool: asyncpg.Pool,
    runtime_database_url: str,
    redis_url: str,
    credentials_dir: Path,
) -> None:
    tenant = await make_tenant("traced")
    await add_engine(admin_pool, tenant.name, "churn", "predictive", MODEL)
    pool, run = f"traced-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    api_service, worker_service = f"api-{run}", f"worker-{run}"
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    port = free_port()
    api = processes.start(
        "api",
        "api",
        {
            **otel,
            "OTEL_SERVICE_NAME": api_service,
            "DATABASE_URL": runtime_database_url,
            "REDIS_URL": redis_url,
            "NEUROEDGE_CREDENTIALS_DIR": str(credentials_dir),
            "NEUROEDGE_RUNTIME_HOST": "127.0.0.1",
            "NEUROEDGE_RUNTIME_PORT": str(port),
            "NEUROEDGE_QDRANT_LOCATION": ":memory:",
            "NEUROEDGE_POOL": pool,
        },
    )
    base = f"http://127.0.0.1:{port}"
    await wait_http(f"{base}/health", api, "the runtime API")
    processes.start(
        "worker",
        "worker",
        {
            **otel,
            "OTEL_SERVICE_NAME": worker_service,
            "REDIS_URL": redis_url,
            "NEUROEDGE_TENANT": tenant.name,
            "NEUROEDGE_POOL": pool,
            "NEUROEDGE_CONSUMER": f"traced-{run}",
            "NEUROEDGE_METRICS_PORT": "0",
        },
    )
    async with aiohttp.ClientSession(base_url=base) as client:
        admin = await login(client, tenant)
        await create_user(client, admin, "m@example.com", "member")
        member = await login(client, tenant, "m@example.com", "correct horse battery")
        features = {"features": {"tenure": 2, "tickets": 3}}
        resp = await client.post(
            "/engine/run", json={"engine": "churn", "input": features}, headers=bearer(member)
        )
        assert resp.status == 202, await resp.text()
        job_id = (await resp.json())["job_id"]
        for _ in range(600):
            state = await (await client.get(f"/jobs/{job_id}", headers=bearer(member))).json()
            if state["status"] == "succeeded":
                break
            await asyncio.sleep(0.05)
        assert state["status"] == "succeeded", f"{state}\n{processes.log('worker')}"

    found = await _trace_of(jaeger, worker_service, job_id)
    spans = found["spans"]
    services = {pid: p["serviceName"] for pid, p in found["processes"].items()}
    assert {services[s["processID"]] for s in spans} >= {api_service, worker_service}
    assert len({s["traceID"] for s in spans}) == 1

    (request,) = [s for s in spans if s["operationName"] == "POST /engine/run"]
    assert services[request["processID"]] == api_service and _parent(request) is None
    tags = _tags(request)
    assert tags["http.route"] == "/engine/run" and tags["http.response.status_code"] == 202
    assert tags["neuroedge.tenant"] == tenant.name and tags["span.kind"] == "server"
    under_request = _children(spans, request)
    assert "postgresql" in {_db_system(s) for s in under_request}, "no SQL child of the API span"
    assert "redis" in {_db_system(s) for s in under_request}, "no Redis child of the API span"

    (enqueue,) = [s for s in under_request if s["operationName"] == "enqueue churn"]
    assert _tags(enqueue)["span.kind"] == "producer"
    assert "redis" in {_db_system(s) for s in _children(spans, enqueue)}, "no Redis child of the enqueue span"

    (attempt,) = [s for s in spans if _tags(s).get("messaging.message.id") == job_id]
    assert services[attempt["processID"]] == worker_service
    assert attempt["operationName"] == "run churn" and _parent(attempt) == enqueue["spanID"]
    worker_tags = _tags(attempt)
    assert worker_tags["span.kind"] == "consumer" and worker_tags["neuroedge.job.outcome"] == "succeeded"
    assert worker_tags["neuroedge.tenant"] == tenant.name and worker_tags["neuroedge.job.attempt"] == 1
