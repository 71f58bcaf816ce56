"""Every metric name the shipped dashboards and alerts use is exported by a real running component: the
operator process (against the test control plane), the runtime API and a worker process, each scraped over
HTTP after it did some work. A dashboard panel on a metric nobody exports would stay empty forever."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import monitoring_assets
import operator_helpers
import pytest
import redis.asyncio as aioredis
import tenant_operator_process as operator_process
from operator_helpers import apply_tenant, kubectl, wait_ready
from prometheus_client.parser import text_string_to_metric_families
from runtime_helpers import bearer, login

from neuroedge_queue import jobs, keys, producer

NEUROEDGE_RUNTIME = Path(sys.executable).parent / "neuroedge-runtime"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


def series_names(exposition: str) -> set[str]:
    """The names of the series a scrape of `exposition` yields, including those of metric families that have
    no labelled child yet (Prometheus sees them as soon as the first label set is used)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


@pytest.fixture
def operator(
    kubeconfig: Path, database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[operator_process.OperatorProcess]:
    env = operator_helpers.operator_env(kubeconfig, database_url, redis_url, NEUROEDGE_RESYNC_INTERVAL="2")
    with operator_helpers.running_operator(env, tmp_path / "operator.log") as proc:
        yield proc


@pytest.fixture
def worker(redis_url: str, tmp_path: Path) -> Iterator[tuple[int, keys.QueueKeys]]:
    port, queue = operator_process.free_port(), keys.QueueKeys("scraped", f"p-{uuid.uuid4().hex[:6]}")
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "NEUROEDGE_TENANT": queue.tenant,
        "NEUROEDGE_POOL": queue.pool,
        "NEUROEDGE_CONSUMER": "scraped",
        "NEUROEDGE_METRICS_PORT": str(port),
        "NEUROEDGE_TEST_ENGINES": "1",
    }
    log = (tmp_path / "worker.log").open("ab")
    proc = subprocess.Popen([str(NEUROEDGE_RUNTIME), "worker"], env=env, stdout=log, stderr=log)
    yield port, queue
    proc.terminate()
    proc.wait(20)


async def test_every_metric_the_dashboards_and_alerts_use_is_exported(
    operator: operator_process.OperatorProcess,
    worker: tuple[int, keys.QueueKeys],
    kubeconfig: Path,
    client: Any,
    make_tenant: Any,
    redis_url: str,
) -> None:
    # The operator reconciles a Tenant; the API serves a login and an unknown job; the worker runs a job.
    name = f"scrape-{uuid.uuid4().hex[:6]}"
    apply_tenant(kubeconfig, name, {})
    try:
        wait_ready(kubeconfig, name)
        tenant = await make_tenant("scrape")
        tokens = await login(client, tenant)
        unknown = await client.get(f"/jobs/{jobs.new_job_id()}", headers=bearer(tokens))
        assert unknown.status == 404, await unknown.text()  # authenticated, so counted for the tenant
        worker_port, queue = worker
        redis_client = aioredis.Redis.from_url(redis_url)
        try:
            produce = producer.Producer(redis_client, queue, result_ttl=60)
            job_id = (await produce.enqueue(producer.JobRequest("echo", {"hi": 1}))).job_id
            for _ in range(400):
                state = await produce.get(job_id)
                if state is not None and state.status == jobs.Status.SUCCEEDED:
                    break
                await asyncio.sleep(0.05)
            assert state is not None and state.status == jobs.Status.SUCCEEDED
        finally:
            await redis_client.aclose()

        operator_text = await asyncio.to_thread(scrape, operator.metrics_port)
        api_text = await (await client.get("/metrics")).text()
        worker_text = await asyncio.to_thread(scrape, worker_port)
    finally:
        kubectl(kubeconfig, "delete", "tenant", name, "--wait=false")

    assert "neuroedge_operator_leader 1.0" in operator_text
    tenant_series = [
        sample.labels
        for family in text_string_to_metric_families(api_text)
        for sample in family.samples
        if sample.name == "neuroedge_tenant_requests_total"
    ]
    assert {"tenant": tenant.name, "route": "/jobs/{job_id}", "status": "404"} in tenant_series, tenant_series
    assert "neuroedge_jobs_succeeded_total" in worker_text
    exported = series_names(operator_text) | series_names(api_text) | series_names(worker_text)
    used = monitoring_assets.used_metric_names()
    assert len(used) > 20
    assert used - exported == set(), "used by dashboards or alerts but exported by no component"
