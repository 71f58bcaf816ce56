"""Benchmark of asynchronous engine runs: the latency of `POST /engine/run` (look the Engine up, enqueue)
beside `POST /engine/predict` on the same Engine (look it up, run it inline), and how fast one worker process
drains jobs of a predictive Engine beside as many `noop` jobs (the queue's own cost) in the same run.

The runtime runs in this process (the app factory, production defaults, access logs off), requests are made
one at a time so the figures are latencies; the worker is a real `neuroedge runtime worker` process. Needs
DATABASE_URL (superuser) and REDIS_URL; prints one JSON object per result.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from neuroedge_operator.db import migrate
from neuroedge_queue import jobs, keys, producer
from neuroedge_runtime import app as runtime_app
from neuroedge_runtime.settings import RuntimeSettings

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
JOBS = int(os.environ.get("BENCH_JOBS", "3000"))
CONFIG = {"model": "logistic", "weights": {f"f{i}": 0.1 * i for i in range(8)}, "bias": 0.1}
INPUT = {"features": {f"f{i}": 1.0 for i in range(8)}}


def emit(name: str, value: float, unit: str, baseline_name: str, baseline_value: float) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 4),
                "unit": unit,
                "baseline_name": baseline_name,
                "baseline_value": round(baseline_value, 4),
            }
        ),
        flush=True,
    )


async def provision(admin_dsn: str, credentials: Path) -> tuple[str, str, str]:
    """A tenant with a predictive Engine and credentials; returns the runtime DSN, tenant and password."""
    tenant, password, role_password = (
        f"bjobs-{secrets.token_hex(4)}",
        secrets.token_urlsafe(16),
        secrets.token_urlsafe(16),
    )
    conn = await asyncpg.connect(admin_dsn)
    try:
        await migrate.migrate(conn)
        await conn.execute(
            "DO $$ BEGIN CREATE ROLE rt_bench_jobs LOGIN IN ROLE neuroedge_runtime; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        )
        await conn.execute(f"ALTER ROLE rt_bench_jobs PASSWORD '{role_password}'")
        await conn.execute(
            "INSERT INTO neuroedge.tenants (tenant_id, rate_limit_rps, rate_limit_burst) "
            "VALUES ($1, 1e7, 10000000)",
            tenant,
        )
        await conn.execute(
            "INSERT INTO neuroedge.engines (tenant_id, name, kind, config) "
            "VALUES ($1, 'score', 'predictive', $2)",
            tenant,
            json.dumps(CONFIG),
        )
    finally:
        await conn.close()
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    signing = {
        "active": "k1",
        "keys": [
            {
                "kid": "k1",
                "private_key_pem": pem,
                "public_jwk": json.loads(OKPAlgorithm.to_jwk(key.public_key())),
                "created_at": "2026-01-01T00:00:00+00:00",
                "verify_until": None,
            }
        ],
    }
    directory = credentials / tenant
    directory.mkdir(parents=True)
    for name, value in {
        "TENANT": tenant,
        "JWT_SIGNING_KEYS": json.dumps(signing),
        "ADMIN_EMAIL": "admin@bench.io",
        "ADMIN_PASSWORD": password,
    }.items():
        (directory / name).write_text(value)
    parts = urlsplit(admin_dsn)
    netloc = f"rt_bench_jobs:{role_password}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")), tenant, password


async def latencies(session: aiohttp.ClientSession, path: str, body: dict[str, object], status: int) -> float:
    """Median milliseconds of REQUESTS sequential requests (after a warm-up)."""
    samples = []
    for i in range(REQUESTS + 20):
        began = time.perf_counter()
        async with session.post(path, json=body) as resp:
            assert resp.status == status, await resp.text()
            await resp.read()
        if i >= 20:
            samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def drain_rate(redis_url: str, tenant: str, requests: list[producer.JobRequest]) -> float:
    """Jobs per second one worker process (concurrency 16) completes, first start to last finish."""
    pool = f"bench-{secrets.token_hex(3)}"
    client = aioredis.Redis.from_url(redis_url)
    produce = producer.Producer(client, keys.QueueKeys(tenant, pool), result_ttl=600)
    ids = [e.job_id for e in await produce.enqueue_many(requests)]
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "NEUROEDGE_TENANT": tenant,
        "NEUROEDGE_POOL": pool,
        "NEUROEDGE_CONCURRENCY": "16",
        "NEUROEDGE_LOG_LEVEL": "WARNING",
    }
    command = [str(Path(sys.executable).parent / "neuroedge-runtime"), "worker"]
    worker = subprocess.Popen(command, env=env)  # noqa: ASYNC220 - started once, not awaited on
    try:
        while True:
            states = await produce.get_many(ids)
            if all(s is not None and s.status in jobs.FINAL for s in states):
                break
            await asyncio.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(30)
        await client.aclose()
    assert all(s is not None and s.status == jobs.Status.SUCCEEDED for s in states)
    began = min(s.started_at or 0 for s in states if s)
    ended = max(s.finished_at or 0 for s in states if s)
    return len(ids) / (ended - began)


async def main() -> None:
    logging.disable(logging.INFO)
    credentials = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    dsn, tenant, password = await provision(os.environ["DATABASE_URL"], credentials)
    settings = RuntimeSettings(
        database_url=dsn,
        redis_url=os.environ["REDIS_URL"],
        credentials_dir=credentials,
        pool="bench",
        job_result_ttl_seconds=600,
    )
    runner = web.AppRunner(runtime_app.init_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as session:
        resp = await session.post(
            "/auth/login", json={"tenant": tenant, "email": "admin@bench.io", "password": password}
        )
        token = (await resp.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", headers=headers) as session:
        body = {"engine": "score", "input": INPUT}
        predict = await latencies(session, "/engine/predict", body, 200)
        run = await latencies(session, "/engine/run", body, 202)
    await runner.cleanup()
    emit("engine_run_p50_latency", run, "ms", "engine_predict_p50_latency", predict)

    noop = await drain_rate(os.environ["REDIS_URL"], tenant, [producer.JobRequest("noop")] * JOBS)
    kind = [producer.JobRequest("score", INPUT, kind="predictive", config=CONFIG)] * JOBS
    engine = await drain_rate(os.environ["REDIS_URL"], tenant, kind)
    emit("worker_predictive_jobs_per_second", engine, "jobs/s", "worker_noop_jobs_per_second", noop)


if __name__ == "__main__":
    asyncio.run(main())
