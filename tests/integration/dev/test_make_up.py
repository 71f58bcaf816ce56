"""`make up` runs the whole product locally: the real CLI (`neuroedge dev up --crds --sample`, what the
Makefile runs) on a throw-away state directory starts the stack, the operator, the samples, the runtime API
and the sample pool's worker. The sample tenant's admin (credentials from its Secret) logs in to the local
API and runs the sample Engine as a job that the local worker completes; a second `up` changes nothing, a
killed worker and API are restarted by the next `up` (the API on its port), and `down` leaves nothing
running. A Tenant applied while the stack is up is served by the running API within seconds (its Secret
mirrored as files by the credentials sync), and no longer once it is deleted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import operator_helpers
import pytest
import redis.asyncio as aioredis

from neuroedge_dev import apps, controlplane, procs
from neuroedge_dev import stack as dev_stack
from neuroedge_queue import keys

REPO = Path(__file__).resolve().parents[3]
NEUROEDGE = [sys.executable, "-m", "neuroedge_dev.cli"]
SAMPLE = REPO / "crds" / "examples" / "tenant.yaml"
WORKER = "runtime-worker-acme-general"


def cli(state: Path, *args: str) -> str:
    proc = subprocess.run(
        [*NEUROEDGE, "dev", *args, "--state-dir", str(state)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, f"neuroedge dev {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def up(state: Path) -> str:
    return cli(state, "up", "--crds", str(REPO / "crds"), "--sample", str(SAMPLE))


@pytest.fixture
def state() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="neuroedge-make-up-"))
    yield path
    dev_stack.down(path)  # a safety net; the test checks `down` itself
    shutil.rmtree(path, ignore_errors=True)


def secret(kubeconfig: str) -> dict[str, str]:
    raw = controlplane.kubectl(
        Path(kubeconfig), "get", "secret", "neuroedge-tenant-credentials", "-n", "acme", "-o", "json"
    )
    return {k: base64.b64decode(v).decode() for k, v in json.loads(raw)["data"].items()}


async def runtime_logins(database_url: str) -> set[str]:
    """The PostgreSQL roles the runtime API is connected as."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name = 'neuroedge-runtime'"
        )
    finally:
        await conn.close()
    return {row["usename"] for row in rows}


async def run_sample_job(runtime_url: str, credentials: dict[str, str]) -> dict[str, Any]:
    """Log in as the sample tenant's admin, run the sample engine as a job, wait for it to be final."""
    async with aiohttp.ClientSession(runtime_url) as http:
        login = {
            "tenant": "acme",
            "email": credentials["ADMIN_EMAIL"],
            "password": credentials["ADMIN_PASSWORD"],
        }
        resp = await http.post("/auth/login", json=login)
        assert resp.status == 200, await resp.text()
        auth = {"Authorization": f"Bearer {(await resp.json())['access_token']}"}
        body = {"engine": "support-assistant", "input": {"message": "How do I reset my password?"}}
        resp = await http.post("/engine/run", json=body, headers=auth)
        assert resp.status == 202, await resp.text()
        location = resp.headers["Location"]
        for _ in range(1200):
            job = dict(await (await http.get(location, headers=auth)).json())
            if job["status"] in {"succeeded", "failed", "dead"}:
                return job
            await asyncio.sleep(0.05)
    pytest.fail(f"the job was not run by the local worker: {job}")


async def worker_of(redis_url: str, job_id: str) -> str:
    """The consumer that ran the job, read with the tenant's own Redis ACL user."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        value = await client.hget(keys.QueueKeys("acme", "general").job(job_id), "worker")
    finally:
        await client.aclose()
    return value.decode() if value else ""


async def test_make_up_runs_the_product_and_down_stops_it(state: Path) -> None:
    out = up(state)
    assert "RUNTIME_URL=http://127.0.0.1:" in out, out
    assert "sample VectorIndex support-kb: 8 chunks ingested" in out, out
    running = dev_stack.load(state)
    assert running is not None and running.runtime_url
    assert {"operator", "runtime-api", WORKER} <= set(running.processes)
    env = cli(state, "env")
    assert f"export RUNTIME_URL='{running.runtime_url}'" in env
    # The dev operator leads through the Lease, like a cluster's, and `make env` says where its metrics are.
    metrics_url = f"http://127.0.0.1:{running.processes['operator'].port}/metrics"
    assert f"export NEUROEDGE_OPERATOR_METRICS_URL='{metrics_url}'" in env
    async with aiohttp.ClientSession() as http, http.get(metrics_url) as resp:
        assert "\nneuroedge_operator_leader 1.0\n" in await resp.text()
    holder = controlplane.kubectl(
        Path(running.kubeconfig),
        "get",
        "lease",
        "neuroedge-operator",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    )
    assert holder.startswith("neuroedge-dev-operator-"), holder

    credentials = secret(running.kubeconfig)
    for key in ("TENANT", "REDIS_URL", "ADMIN_PASSWORD", "JWT_SIGNING_KEYS"):
        path = state / "credentials" / "acme" / key
        assert path.read_text() == credentials[key] and (path.stat().st_mode & 0o077) == 0
    # The sample Engine, registered by the Engine reconciler with the sample's config, answers from the
    # sample VectorIndex (embedded by the built-in model, filled by make up's ingestion job) through the
    # local worker.
    job = await run_sample_job(running.runtime_url, credentials)
    assert job["status"] == "succeeded", job
    assert job["result"]["reply"].endswith("(source: reset-password)"), job["result"]
    assert await worker_of(credentials["REDIS_URL"], job["id"]) == "dev-acme-general"
    assert await runtime_logins(running.database_url) == {"neuroedge_runtime_dev"}

    pids = {name: p.pid for name, p in running.processes.items()}
    assert "started: nothing, all was running" in up(state)
    again = dev_stack.load(state)
    assert again is not None and {n: p.pid for n, p in again.processes.items()} == pids
    assert again.runtime_url == running.runtime_url

    for name in (WORKER, "runtime-api"):
        os.kill(pids[name], signal.SIGKILL)
        for _ in range(100):
            if not procs.is_alive(pids[name]):
                break
            await asyncio.sleep(0.05)
    assert f"started: runtime-api, {WORKER}" in up(state)
    restarted = dev_stack.load(state)
    assert restarted is not None and restarted.runtime_url == running.runtime_url  # same port again
    assert all(procs.is_alive(restarted.processes[n].pid) for n in (WORKER, "runtime-api"))
    assert {n: p.pid for n, p in restarted.processes.items() if n not in (WORKER, "runtime-api")} == {
        n: pid for n, pid in pids.items() if n not in (WORKER, "runtime-api")
    }
    second = await run_sample_job(running.runtime_url, credentials)
    assert second["status"] == "succeeded", second

    cli(state, "down")
    everything = {**pids, **{n: restarted.processes[n].pid for n in (WORKER, "runtime-api")}}
    assert [name for name, pid in everything.items() if procs.is_alive(pid)] == []
    assert procs.pids_mentioning(str(state)) == []
    assert dev_stack.load(state) is None


async def login_status(
    runtime_url: str, tenant: str, email: str, password: str
) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(runtime_url) as http:
        resp = await http.post("/auth/login", json={"tenant": tenant, "email": email, "password": password})
        body = await resp.json(content_type=None)
        return resp.status, body if isinstance(body, dict) else {}


async def test_make_up_serves_a_tenant_applied_later_and_forgets_it_once_deleted(state: Path) -> None:
    up(state)
    running = dev_stack.load(state)
    assert running is not None and apps.SYNC in running.processes
    kubeconfig, name = Path(running.kubeconfig), f"later-{uuid.uuid4().hex[:6]}"
    operator_helpers.apply_tenant(kubeconfig, name, {"namespaces": [name]})
    operator_helpers.wait_ready(kubeconfig, name, timeout=120)
    values = operator_helpers.secret_values(kubeconfig, name)
    email, password = values["ADMIN_EMAIL"], values["ADMIN_PASSWORD"]

    # Within seconds the Secret is on disk as kubelet would mount it, and the API already running serves it.
    files = state / "credentials" / name
    await operator_helpers.eventually((files / "ADMIN_PASSWORD").is_file, what="the files")
    for key in ("TENANT", "ADMIN_PASSWORD", "JWT_SIGNING_KEYS"):
        assert (files / key).read_text() == values[key] and (files / key).stat().st_mode & 0o077 == 0

    async def logs_in() -> bool:
        return (await login_status(running.runtime_url, name, email, password))[0] == 200

    await operator_helpers.eventually(logs_in, timeout=30, what=f"{name}'s admin logging in")
    status, body = await login_status(running.runtime_url, name, email, password)
    assert status == 200 and body["access_token"] and body["token_type"].lower() == "bearer"
    # Its password is no key to another tenant.
    assert (await login_status(running.runtime_url, "acme", email, password))[0] == 401

    controlplane.kubectl(kubeconfig, "delete", "tenant", name, "--wait=true", "--timeout=120s")
    await operator_helpers.eventually(lambda: not files.exists(), what=f"{name}'s files removed")

    async def refused() -> bool:
        return (await login_status(running.runtime_url, name, email, password))[0] == 401

    await operator_helpers.eventually(refused, timeout=30, what=f"{name}'s login refused")
    assert (state / "credentials" / "acme" / "ADMIN_PASSWORD").is_file()  # the sample tenant stays served
    cli(state, "down")
    assert procs.pids_mentioning(str(state)) == []
