"""Benchmark of the runtime API: requests per second and p50/p95/p99 latency of `/health`, an authenticated
`/vector/search` (pgvector, 64 dimensions, 2000 points) and an authenticated `/engine/predict`, each beside a
bare aiohttp hello-world measured right after it in the same run; `/vector/search` also beside a raw asyncpg
loop running the same SQL (`raw_sql_vector_search_rps`: the same tenant transaction and query, the runtime's
pool size, the same concurrency, in a process of its own: the database's ceiling); `/engine/predict`'s latency
at a fixed rate (BENCH_RATE, 1000 req/s) beside the hello-world's at that rate; the floor of an authenticated
predict (`predict_floor.py`: only the work issue 15 requires of each such request, with the runtime's own
pieces, as a server of its own; `engine_predict_floor_*` beside the hello-world, and the runtime's predict
beside it as `engine_predict_rps_vs_floor`); and the runtime's resident memory at idle (no model loaded) and
under load, beside the hello-world's. The closed-loop runs are repeated
in BENCH_ROUNDS (3) interleaved rounds, each scenario right before a hello-world run, and every figure is the
median of its rounds; each run also measures the server's CPU per request (`<scenario>_cpu_us` beside
`hello_cpu_us`, from /proc), which moves less with a noisy neighbour than requests per second do.

Both servers run as separate processes (`neuroedge-runtime api` with its production defaults, INFO access logs
included, and a one-route aiohttp app) on the same event loop (NEUROEDGE_EVENT_LOOP, uvloop by default: a
hello-world on asyncio's own loop would be a slower baseline than the runtime's) and the same aiohttp server
settings (no aiohttp access logger on either). Load generators are real ones, installed by `make bench`
through the dev toolchain: `wrk` (Debian) for the closed-loop runs (BENCH_CONNECTIONS connections, one
thread) and vegeta (built from the Go module proxy) for the constant-rate run; wrk's closed loop hides
queueing delay, vegeta sends on schedule whatever the answers' speed, so its p99 includes it.

The client-bound rule: a measurement says something about a server only when the load generator was not the
limit. A wrk run is client-bound when wrk's own CPU time (user + system, from wait4) reaches CLIENT_CPU_LIMIT
(90%) of the run's wall time (one wrk thread saturates one core), or when the bare hello-world, the baseline
of every ratio, stays under BENCH_MIN_HELLO_RPS (5,000 req/s; wrk gets ~18,000 from it on two cores, the
aiohttp client that once stood in for wrk only ~1,800). A vegeta run is client-bound when it did not hold its
rate (achieved < 95% of BENCH_RATE). Any client-bound run stops the script with exit code 2 before any result
is printed: no ratio is reported against a client's ceiling.

BENCH_PROFILE=<dir>: additionally sample the runtime with py-spy during each scenario (wrk runs) and write
their top frames (self and inclusive) to <dir>/<scenario>.txt and the collapsed stacks beside them
(`bench/profiles/` keeps the last summaries).

Needs DATABASE_URL (superuser) and REDIS_URL; prints one JSON object per result.
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
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from neuroedge_dev import toolchain
from neuroedge_operator.builders import pgvector
from neuroedge_operator.db import migrate

DURATION = float(os.environ.get("BENCH_DURATION", "6"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
RATE = int(os.environ.get("BENCH_RATE", "1000"))
MIN_HELLO_RPS = float(os.environ.get("BENCH_MIN_HELLO_RPS", "5000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CLIENT_CPU_LIMIT = 0.9
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POOL_MAX = 10  # the runtime's default NEUROEDGE_DB_POOL_MAX, which the raw SQL loop uses too
DIMENSION = 64
POINTS = 2000
HELLO = """
import asyncio
import sys
from aiohttp import web
if sys.argv[2] == "uvloop":
    import uvloop
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
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
FLOOR_APP = Path(__file__).resolve().parent / "predict_floor.py"
# The raw SQL loop, in a process of its own: `python bench_runtime.py --raw-sql DSN TENANT STORAGE VECTOR`.
RAW_SQL = "--raw-sql"


class ClientBoundError(RuntimeError):
    """A measurement limited by the load generator, not by the server under test."""


def start_floor(port: int, loop: str, redis_url: str) -> subprocess.Popen[bytes]:
    """The floor of an authenticated predict (`predict_floor.py`: only the work every such request must do,
    with the runtime's own pieces) on `loop`, as a server of its own."""
    return subprocess.Popen([sys.executable, str(FLOOR_APP), str(port), loop, redis_url])


def start_hello(port: int, loop: str) -> subprocess.Popen[bytes]:
    """The bare aiohttp hello-world on `loop` ("uvloop", the runtime's default, or "asyncio"), so that the
    baseline runs on the event loop the runtime runs on."""
    return subprocess.Popen([sys.executable, "-c", HELLO, str(port), loop])


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


def run_wrk(
    method: str,
    url: str,
    body: str,
    auth: str,
    script: Path,
    connections: int = CONNECTIONS,
    seconds: float = DURATION,
) -> dict[str, float]:
    """One closed-loop wrk run over `connections` connections for `seconds`; ClientBoundError when wrk
    itself saturated its core."""
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_AUTH": auth}
    argv = [
        str(toolchain.wrk()),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "-s",
        str(script),
    ]
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen([*argv, url], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text[-2000:]}")
    line = next(line for line in text.splitlines() if line.startswith("BENCH "))
    raw = json.loads(line[len("BENCH ") :])
    cpu_share = (usage.ru_utime + usage.ru_stime) / wall
    if cpu_share >= CLIENT_CPU_LIMIT:
        raise ClientBoundError(
            f"{method} {url}: wrk used {cpu_share:.0%} of a core (limit {CLIENT_CPU_LIMIT:.0%}): client-bound"
        )
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50": raw["p50"] / 1000,
        "p95": raw["p95"] / 1000,
        "p99": raw["p99"] / 1000,
        "failed": raw["errors"] + raw["non2xx"],
        "client_cpu": cpu_share,
    }


def run_vegeta(method: str, url: str, body: str, auth: str, work: Path) -> dict[str, Any]:
    """One constant-rate vegeta run at RATE req/s; ClientBoundError when it could not hold the rate."""
    body_file = work / "vegeta-body.json"
    body_file.write_text(body)
    lines = [f"{method} {url}"]
    if auth:
        lines.append(f"Authorization: {auth}")
    if body:
        lines += ["Content-Type: application/json", f"@{body_file}"]
    targets = work / "vegeta-targets.txt"
    targets.write_text("\n".join(lines) + "\n")
    results = work / "vegeta-results.bin"
    vegeta = str(toolchain.vegeta())
    subprocess.run(
        [
            vegeta,
            "attack",
            f"-rate={RATE}/1s",
            f"-duration={max(1, round(DURATION))}s",
            f"-targets={targets}",
            "-timeout=10s",
            f"-output={results}",
        ],
        check=True,
        capture_output=True,
    )
    report = json.loads(
        subprocess.run(
            [vegeta, "report", "-type=json", str(results)], check=True, capture_output=True, text=True
        ).stdout
    )
    if report["rate"] < 0.95 * RATE:
        raise ClientBoundError(
            f"{method} {url}: vegeta sent {report['rate']:.0f} req/s of {RATE}: client-bound"
        )
    latencies = report["latencies"]
    return {
        "rps": report["throughput"],
        "p50": latencies["50th"] / 1e6,
        "p99": latencies["99th"] / 1e6,
        "failed": round(report["requests"] * (1 - report["success"])),
        "success": report["success"] * 100,
        "why": f"status codes {report['status_codes']}, errors {report.get('errors', [])[:3]}",
    }


async def _raw_sql(dsn: str, tenant: str, storage: str, vector: list[float]) -> dict[str, float]:
    """The runtime's search SQL (the same tenant transaction and statement, through its own modules) in a
    loop of CONNECTIONS workers over a pool of POOL_MAX connections, for DURATION seconds."""
    from neuroedge_runtime.tenancy import db  # noqa: PLC0415
    from neuroedge_runtime.vectors import models, registry  # noqa: PLC0415
    from neuroedge_runtime.vectors import pgvector as pg_search  # noqa: PLC0415

    info = registry.IndexInfo(tenant, "docs", "pgvector", DIMENSION, "Cosine", storage)
    request = models.SearchRequest(index="docs", vector=vector, top_k=10)
    done = 0
    async with asyncpg.create_pool(dsn, min_size=POOL_MAX, max_size=POOL_MAX) as pool:
        deadline = time.perf_counter() + DURATION

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with db.tenant_transaction(pool, tenant) as conn:
                    hits = await pg_search.search(conn, info, request, vector)
                if len(hits) != request.top_k:
                    raise RuntimeError(f"raw search found {len(hits)} points")
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - started
    return {"rps": done / elapsed}


def run_raw_sql(dsn: str, tenant: str, storage: str, body: str) -> dict[str, float]:
    vector = json.dumps(json.loads(body)["vector"])
    out = subprocess.run(
        [sys.executable, __file__, RAW_SQL, dsn, tenant, storage, vector],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _frame(raw: str) -> str:
    """`func (path/to/file.py:123)` -> `func (file.py)`: samples of one function at any line together."""
    name, _, where = raw.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1] if where else ""
    return f"{name} ({file})" if file else name


def profile_summary(collapsed: str, top: int = 30) -> str:
    """Top frames by self and by inclusive samples of py-spy's collapsed-stack output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"{total} samples", "", "self:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["", "inclusive:"]
    lines += [f"  {n / total:6.1%}  {f}" for f, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


class Profiler:
    """py-spy sampling the runtime while one scenario runs (BENCH_PROFILE)."""

    def __init__(self, pid: int, out_dir: Path | None, name: str) -> None:
        self.pid, self.out_dir, self.name = pid, out_dir, name
        self._proc: subprocess.Popen[bytes] | None = None
        self._raw = Path()

    def __enter__(self) -> Profiler:
        if self.out_dir is not None:
            self._raw = Path(tempfile.mkdtemp(prefix="bench-profile-")) / f"{self.name}.collapsed"
            py_spy = Path(sys.executable).parent / "py-spy"
            self._proc = subprocess.Popen(
                [
                    str(py_spy),
                    "record",
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "-o",
                    str(self._raw),
                    "-p",
                    str(self.pid),
                    "--duration",
                    str(max(1, round(DURATION))),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)  # attached before the load starts
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is None or self.out_dir is None:
            return
        self._proc.wait(timeout=60)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        collapsed = self._raw.read_text()
        summary = profile_summary(collapsed)
        shutil.rmtree(self._raw.parent, ignore_errors=True)
        (self.out_dir / f"{self.name}.collapsed").write_text(collapsed)  # for a flame graph, or grep
        (self.out_dir / f"{self.name}.txt").write_text(
            f"py-spy record --rate 200 of the runtime API during {self.name} "
            f"(wrk, {CONNECTIONS} connections, {DURATION:g}s)\n{summary}"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its threads so far (/proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds' runs."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


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


def _scenarios(base: str) -> dict[str, tuple[str, str, str]]:
    rng = random.Random(11)
    return {
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


def main() -> int:
    admin_dsn, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    profile_dir = Path(os.environ["BENCH_PROFILE"]) if os.environ.get("BENCH_PROFILE") else None
    wrk, _ = (
        toolchain.wrk(),
        toolchain.vegeta(),
    )  # fail before provisioning when `make bench` did not install them
    tmp = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    credentials = tmp / "credentials"
    dsn, tenant, email, password = asyncio.run(provision(admin_dsn, credentials))
    rt_port, hello_port, floor_port = free_port(), free_port(), free_port()
    runtime_env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "NEUROEDGE_CREDENTIALS_DIR": str(credentials),
        "NEUROEDGE_RUNTIME_PORT": str(rt_port),
        "NEUROEDGE_DB_POOL_MAX": str(POOL_MAX),
    }
    with (tmp / "runtime.log").open("w") as log:
        runtime = subprocess.Popen(
            [sys.executable, "-m", "neuroedge_runtime.cli", "api"],
            env=runtime_env,
            stderr=log,
            stdout=subprocess.DEVNULL,
        )
    loop = runtime_env.get("NEUROEDGE_EVENT_LOOP", "uvloop")  # the runtime's default
    hello = start_hello(hello_port, loop)
    floor = start_floor(floor_port, loop, redis_url)
    try:
        base, hello_url = f"http://127.0.0.1:{rt_port}", f"http://127.0.0.1:{hello_port}/"
        wait_http(f"{base}/health")
        wait_http(hello_url)
        floor_url = f"http://127.0.0.1:{floor_port}/engine/predict"
        wait_http(f"http://127.0.0.1:{floor_port}/health")
        time.sleep(1.0)
        idle = rss_mb(runtime.pid), rss_mb(hello.pid)  # before any request: no model loaded
        token = asyncio.run(access_token(base, tenant, email, password))
        script = tmp / "bench.lua"
        script.write_text(WRK_SCRIPT)
        print(
            f"load generators: {wrk} ({CONNECTIONS} connections, one thread, {DURATION:g}s per run), "
            f"vegeta {toolchain.VEGETA_VERSION} at {RATE} req/s",
            flush=True,
        )

        def load(method: str, url: str, body: str = "", auth: str = "", pid: int = 0) -> dict[str, float]:
            """One wrk run; with `pid`, also that server's CPU microseconds per request (`cpu_us`)."""
            before = cpu_seconds(pid) if pid else 0.0
            result = run_wrk(method, url, body, auth, script)
            if result["failed"]:
                raise RuntimeError(f"{method} {url}: {result['failed']} failed requests")
            if pid:
                result["cpu_us"] = (cpu_seconds(pid) - before) / (result["rps"] * DURATION) * 1e6
            return result

        scenarios = _scenarios(base)
        predict = scenarios["engine_predict"]
        scenarios["engine_predict_floor"] = (predict[0], floor_url, predict[2])
        pids = {name: floor.pid if name == "engine_predict_floor" else runtime.pid for name in scenarios}
        auth = f"Bearer {token}"
        load("GET", hello_url)  # warm-up of both servers and the pools
        load(*scenarios["vector_search"], auth)
        rounds: dict[str, list[tuple[dict[str, float], dict[str, float]]]] = {name: [] for name in scenarios}
        peak_hello = 0.0
        with RssSampler(runtime.pid) as sampler:
            # Interleaved rounds, each scenario right beside a hello-world run, and the medians reported:
            # one 6 s run of /health moved by 20% between runs on two shared cores.
            for _ in range(ROUNDS):
                for name, (method, url, body) in scenarios.items():
                    with Profiler(pids[name], profile_dir, name):
                        result = load(method, url, body, "" if name == "health" else auth, pids[name])
                    with RssSampler(hello.pid) as hello_sampler:
                        baseline = load("GET", hello_url, pid=hello.pid)
                    peak_hello = max(peak_hello, hello_sampler.peak)
                    if baseline["rps"] < MIN_HELLO_RPS:
                        raise ClientBoundError(
                            f"the bare hello-world reached {baseline['rps']:.0f} req/s, under the floor of "
                            f"{MIN_HELLO_RPS:.0f} (BENCH_MIN_HELLO_RPS): the machine or client is the limit"
                        )
                    print(
                        f"{name}: {result['rps']:.0f} req/s ({result['cpu_us']:.1f} us CPU/request) against "
                        f"hello {baseline['rps']:.0f} ({baseline['cpu_us']:.1f}); wrk used "
                        f"{result['client_cpu']:.0%} of a core, {baseline['client_cpu']:.0%} against hello",
                        flush=True,
                    )
                    rounds[name].append((result, baseline))
            measured = {
                name: (medians([r for r, _ in runs]), medians([b for _, b in runs]))
                for name, runs in rounds.items()
            }
            fixed = run_vegeta(predict[0], predict[1], predict[2], auth, tmp)
            fixed_hello = run_vegeta("GET", hello_url, "", "", tmp)
        raw = run_raw_sql(dsn, tenant, pgvector.storage_name(tenant, "docs"), scenarios["vector_search"][2])
        for name, result in (("engine_predict", fixed), ("hello", fixed_hello)):
            if result["failed"]:  # reported (success below), not hidden: the latencies include them
                print(f"{name} at {RATE} req/s: {result['failed']} failed, {result['why']}", flush=True)
        emit("runtime_rss_idle", idle[0], "MB", "hello_rss_idle", idle[1])
        for name, (result, baseline) in measured.items():
            emit(f"{name}_rps", result["rps"], "req/s", "hello_rps", baseline["rps"])
            emit(f"{name}_cpu_us", result["cpu_us"], "us/req", "hello_cpu_us", baseline["cpu_us"])
            for p in ("p50", "p95", "p99"):
                emit(f"{name}_{p}", result[p], "ms", f"hello_{p}", baseline[p])
        emit(
            "vector_search_rps_vs_raw_sql",
            measured["vector_search"][0]["rps"],
            "req/s",
            "raw_sql_vector_search_rps",
            raw["rps"],
        )
        emit(
            "engine_predict_rps_vs_floor",
            measured["engine_predict"][0]["rps"],
            "req/s",
            "engine_predict_floor_rps",
            measured["engine_predict_floor"][0]["rps"],
        )
        for p in ("p50", "p99"):
            emit(f"engine_predict_fixed_rate_{p}", fixed[p], "ms", f"hello_fixed_rate_{p}", fixed_hello[p])
        emit(
            "engine_predict_fixed_rate_rps", fixed["rps"], "req/s", "hello_fixed_rate_rps", fixed_hello["rps"]
        )
        emit(
            "engine_predict_fixed_rate_success",
            fixed["success"],
            "%",
            "hello_fixed_rate_success",
            fixed_hello["success"],
        )
        emit("runtime_rss_under_load", sampler.peak, "MB", "hello_rss_under_load", peak_hello)
    except ClientBoundError as exc:
        print(f"refusing to report: {exc}", file=sys.stderr, flush=True)
        return 2
    except Exception:
        print((tmp / "runtime.log").read_text()[-4000:], file=sys.stderr, flush=True)  # the server's side
        raise
    finally:
        for proc in (runtime, hello, floor):
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == RAW_SQL:
        dsn, tenant, storage, vector = sys.argv[2:6]
        print(json.dumps(asyncio.run(_raw_sql(dsn, tenant, storage, json.loads(vector)))))
        sys.exit(0)
    sys.exit(main())
