"""Benchmark of the runtime API: requests per second and p50/p95/p99 latency of `/health`, an authenticated
`/vector/search` (pgvector, 64 dimensions, 2000 points) and an authenticated `/engine/predict`, each beside a
bare aiohttp hello-world measured right after it in the same run; and the runtime's resident memory at idle
and under load (beside the hello-world's).

Both servers run as separate processes (`neuroedge runtime api` with its production defaults, INFO access logs
included, and a one-route aiohttp app). The load generator is `wrk` when it is installed, otherwise an aiohttp
client in a second process. Needs DATABASE_URL (superuser) and REDIS_URL; prints one JSON object per result.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from neuroedge_operator.builders import pgvector
from neuroedge_operator.db import migrate

DURATION = float(os.environ.get("BENCH_DURATION", "6"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
DIMENSION = 64
POINTS = 2000
HELLO = """
from aiohttp import web
import sys
async def hello(request):
    return web.Response(text="Hello, world")
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""
WRK_SCRIPT = """
wrk.method = os.getenv("BENCH_METHOD")
local body = os.getenv("BENCH_BODY")
if body ~= nil and body ~= "" then wrk.body = body; wrk.headers["Content-Type"] = "application/json" end
local auth = os.getenv("BENCH_AUTH")
if auth ~= nil and auth ~= "" then wrk.headers["Authorization"] = auth end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
    .. '"p50": %d, "p95": %d, "p99": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""
# The fallback load generator: `python bench_runtime.py --load METHOD URL BODY AUTH SECONDS CONNECTIONS`.
LOAD = "--load"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def wait_http(url: str, seconds: float = 30) -> None:
    import urllib.request  # noqa: PLC0415

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def provision(admin_dsn: str, credentials: Path) -> tuple[str, str, str, str]:
    """A tenant with a pgvector index of POINTS vectors and a predictive engine; returns the runtime DSN,
    tenant, admin email and password."""
    conn = await asyncpg.connect(admin_dsn)
    tenant = f"bench-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    role_password = secrets.token_urlsafe(16)
    try:
        await migrate.migrate(conn)
        await conn.execute(
            "DO $$ BEGIN CREATE ROLE rt_bench LOGIN IN ROLE neuroedge_runtime; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        )
        await conn.execute(f"ALTER ROLE rt_bench PASSWORD '{role_password}'")
        await conn.execute(
            "INSERT INTO neuroedge.tenants (tenant_id, rate_limit_rps, rate_limit_burst) "
            "VALUES ($1, 1e7, 10000000)",
            tenant,
        )
        storage = pgvector.storage_name(tenant, "docs")
        await conn.execute(
            "INSERT INTO neuroedge.vector_indexes VALUES ($1, 'docs', 'pgvector', $2, 'Cosine', $3)",
            tenant,
            DIMENSION,
            storage,
        )
        for statement in pgvector.create_table_sql(storage, DIMENSION, "Cosine"):
            await conn.execute(statement)
        rng = random.Random(7)
        await conn.executemany(
            f'INSERT INTO neuroedge."{storage}" (tenant_id, id, embedding, payload) '
            "VALUES ($1, $2, $3::vector, $4)",
            [
                (
                    tenant,
                    f"p{i}",
                    "[" + ",".join(f"{rng.uniform(-1, 1):.5f}" for _ in range(DIMENSION)) + "]",
                    json.dumps({"n": i % 10}),
                )
                for i in range(POINTS)
            ],
        )
        weights = {f"f{i}": rng.uniform(-1, 1) for i in range(8)}
        await conn.execute(
            "INSERT INTO neuroedge.engines (tenant_id, name, kind, config) "
            "VALUES ($1, 'score', 'predictive', $2)",
            tenant,
            json.dumps({"model": "logistic", "weights": weights, "bias": 0.1}),
        )
    finally:
        await conn.close()
    key = ed25519.Ed25519PrivateKey.generate()
    directory = credentials / tenant
    directory.mkdir(parents=True)
    keys = {
        "active": "k1",
        "keys": [
            {
                "kid": "k1",
                "private_key_pem": key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode(),
                "public_jwk": json.loads(OKPAlgorithm.to_jwk(key.public_key())),
                "created_at": "2026-01-01T00:00:00+00:00",
                "verify_until": None,
            }
        ],
    }
    for name, value in {
        "TENANT": tenant,
        "JWT_SIGNING_KEYS": json.dumps(keys),
        "ADMIN_EMAIL": "admin@bench.io",
        "ADMIN_PASSWORD": password,
    }.items():
        (directory / name).write_text(value)
    parts = urlsplit(admin_dsn)
    dsn = urlunsplit(
        (parts.scheme, f"rt_bench:{role_password}@{parts.hostname}:{parts.port}", parts.path, "", "")
    )
    return dsn, tenant, "admin@bench.io", password


async def access_token(base: str, tenant: str, email: str, password: str) -> str:
    async with aiohttp.ClientSession() as session:
        resp = await session.post(
            f"{base}/auth/login", json={"tenant": tenant, "email": email, "password": password}
        )
        resp.raise_for_status()
        return str((await resp.json())["access_token"])


def run_wrk(method: str, url: str, body: str, auth: str, script: Path) -> dict[str, float]:
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_AUTH": auth}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(DURATION))}s", "-s", str(script), url],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    raw = json.loads(line[len("BENCH ") :])
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50": raw["p50"] / 1000,
        "p95": raw["p95"] / 1000,
        "p99": raw["p99"] / 1000,
        "failed": raw["errors"] + raw["non2xx"],
    }


async def _load(
    method: str, url: str, body: str, auth: str, seconds: float, connections: int
) -> dict[str, float]:
    headers = {"Authorization": auth} if auth else {}
    if body:
        headers["Content-Type"] = "application/json"
    latencies: list[float] = []
    failed = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failed
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            async with session.request(method, url, data=body or None, headers=headers) as resp:
                await resp.read()
                failed += resp.status >= 300
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "rps": len(latencies) / elapsed,
        "p50": q[49] * 1000,
        "p95": q[94] * 1000,
        "p99": q[98] * 1000,
        "failed": failed,
    }


def run_client(method: str, url: str, body: str, auth: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, LOAD, method, url, body, auth, str(DURATION), str(CONNECTIONS)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def emit(name: str, value: float, unit: str, baseline_name: str, baseline_value: float) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 3),
                "unit": unit,
                "baseline_name": baseline_name,
                "baseline_value": round(baseline_value, 3),
            }
        ),
        flush=True,
    )


class RssSampler:
    """Peak resident memory of a process while load runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.1)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> int:
    admin_dsn, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    credentials = tmp / "credentials"
    dsn, tenant, email, password = asyncio.run(provision(admin_dsn, credentials))
    rt_port, hello_port = free_port(), free_port()
    runtime_env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "NEUROEDGE_CREDENTIALS_DIR": str(credentials),
        "NEUROEDGE_RUNTIME_PORT": str(rt_port),
    }
    with (tmp / "runtime.log").open("w") as log:
        runtime = subprocess.Popen(
            [sys.executable, "-m", "neuroedge_runtime.cli", "api"],
            env=runtime_env,
            stderr=log,
            stdout=subprocess.DEVNULL,
        )
    hello = subprocess.Popen([sys.executable, "-c", HELLO, str(hello_port)])
    try:
        base, hello_url = f"http://127.0.0.1:{rt_port}", f"http://127.0.0.1:{hello_port}/"
        wait_http(f"{base}/health")
        wait_http(hello_url)
        token = asyncio.run(access_token(base, tenant, email, password))
        time.sleep(1.0)
        emit("runtime_rss_idle", rss_mb(runtime.pid), "MB", "hello_rss_idle", rss_mb(hello.pid))
        use_wrk = shutil.which("wrk") is not None
        script = tmp / "bench.lua"
        script.write_text(WRK_SCRIPT)
        print(
            f"load generator: {'wrk' if use_wrk else 'aiohttp client'}, {CONNECTIONS} connections, "
            f"{DURATION:g}s per run",
            flush=True,
        )

        def load(method: str, url: str, body: str = "", auth: str = "") -> dict[str, float]:
            result = (
                run_wrk(method, url, body, auth, script) if use_wrk else run_client(method, url, body, auth)
            )
            if result["failed"]:
                raise RuntimeError(f"{method} {url}: {result['failed']} failed requests")
            return result

        rng = random.Random(11)
        scenarios = {
            "health": ("GET", f"{base}/health", ""),
            "vector_search": (
                "POST",
                f"{base}/vector/search",
                json.dumps(
                    {"index": "docs", "vector": [rng.uniform(-1, 1) for _ in range(DIMENSION)], "top_k": 10}
                ),
            ),
            "engine_predict": (
                "POST",
                f"{base}/engine/predict",
                json.dumps(
                    {"engine": "score", "input": {"features": {f"f{i}": rng.uniform(0, 5) for i in range(8)}}}
                ),
            ),
        }
        auth = f"Bearer {token}"
        load("GET", hello_url)  # warm-up of both servers and the pools
        load(*scenarios["vector_search"], auth)
        peak_hello = 0.0
        with RssSampler(runtime.pid) as sampler:
            for name, (method, url, body) in scenarios.items():
                measured = load(method, url, body, "" if name == "health" else auth)
                with RssSampler(hello.pid) as hello_sampler:
                    baseline = load("GET", hello_url)
                peak_hello = max(peak_hello, hello_sampler.peak)
                emit(f"{name}_rps", measured["rps"], "req/s", "hello_rps", baseline["rps"])
                for p in ("p50", "p95", "p99"):
                    emit(f"{name}_{p}", measured[p], "ms", f"hello_{p}", baseline[p])
        emit("runtime_rss_under_load", sampler.peak, "MB", "hello_rss_under_load", peak_hello)
    finally:
        for proc in (runtime, hello):
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == LOAD:
        method, url, body, auth, seconds, connections = sys.argv[2:8]
        print(json.dumps(asyncio.run(_load(method, url, body, auth, float(seconds), int(connections)))))
        sys.exit(0)
    sys.exit(main())
