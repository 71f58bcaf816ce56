"""Benchmark of tracing's cost: authenticated `/engine/predict` requests per second of the runtime API with
tracing off (no OTEL_* variable: nothing installed) beside the same with tracing on at 100% and at 10%
sampling (`parentbased_traceidratio`), in one run. Goals: off costs nothing measurable (< 2%; its baseline is
a second off run, the noise floor), 10% sampling costs < 10%. Tracing on at 0% sampling is measured too: the
price of the request path's tracing machinery when nothing is recorded, which every unsampled request pays.

Each configuration is its own `neuroedge-runtime api` process against the same tenant and engine, measured
with the load generator of bench_runtime.py; with tracing on, spans go over OTLP/HTTP to a sink process that
accepts and discards them, so the figure is the runtime's own cost (SDK, span processing, export), not a
collector's. The configurations are measured in interleaved rounds (`BENCH_ROUNDS`, 5) and each figure is
the median, so that a busy neighbour on a shared machine disturbs all of them alike.

Beside req/s, the API process's CPU time per request (user + system, all its threads, from /proc while wrk
runs): on a shared 2-core machine throughput moves with the neighbours' load by more than tracing's cost,
while the CPU a request takes hardly does, so this is the steadier measure of the same cost. Needs
DATABASE_URL (superuser) and REDIS_URL; prints one JSON object per result.

BENCH_PROFILE=<dir>: after the measured rounds, one more run of each configuration under py-spy (so that the
sampler's own cost stays out of the figures), its summary and collapsed stacks written to <dir>.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import bench_runtime as rt

SINK = """
from aiohttp import web
import sys
async def accept(request):
    await request.read()
    return web.Response(body=b"", content_type="application/x-protobuf")
app = web.Application(client_max_size=64 * 1024 * 1024)
app.router.add_post("/v1/traces", accept)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PROFILE_DIR = Path(os.environ["BENCH_PROFILE"]) if os.environ.get("BENCH_PROFILE") else None
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "off": {},
    "on_100pct": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    "on_10pct": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
    "on_0pct": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"},
}


class Stage(NamedTuple):
    """What every configuration of a tracing benchmark shares: a provisioned tenant (its runtime DSN in
    `base_env`), the OTLP sink spans go to, the request body and the wrk script."""

    tmp: Path
    tenant: str
    email: str
    password: str
    sink: subprocess.Popen[bytes]
    base_env: dict[str, str]
    tracing_env: dict[str, str]
    script: Path
    body: str


def stage(prefix: str) -> Stage:
    """Provision a tenant and start the sink (the caller stops `sink` and removes `tmp`). The base
    environment leaves out OTEL_* (each configuration sets its own) and PYTHONMALLOC."""
    admin_dsn, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    credentials = tmp / "credentials"
    dsn, tenant, email, password = asyncio.run(rt.provision(admin_dsn, credentials))
    sink_port = rt.free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)])
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "PYTHONMALLOC"} | {
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "NEUROEDGE_CREDENTIALS_DIR": str(credentials),
    }
    tracing_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
        "OTEL_SERVICE_NAME": "bench",
    }
    script = tmp / "bench.lua"
    script.write_text(rt.WRK_SCRIPT)
    rng = random.Random(11)
    body = json.dumps(
        {"engine": "score", "input": {"features": {f"f{i}": rng.uniform(0, 5) for i in range(8)}}}
    )
    return Stage(tmp, tenant, email, password, sink, base_env, tracing_env, script, body)


def start_api(
    name: str, base_env: dict[str, str], extra: dict[str, str], tmp: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = rt.free_port()
    env = {k: v for k, v in base_env.items() if not k.startswith("OTEL_")}
    env.update(extra)
    env["NEUROEDGE_RUNTIME_PORT"] = str(port)
    with (tmp / f"runtime-{name}.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neuroedge_runtime.cli", "api"],
            env=env,
            stderr=log,
            stdout=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    rt.wait_http(f"{base}/health")
    return proc, base


def main() -> int:
    tmp, tenant, email, password, sink, base_env, tracing_env, script, body = stage("bench-tracing-")
    print(
        f"load generator: wrk, {rt.CONNECTIONS} connections, "
        f"{rt.DURATION:g}s per run; tracing exports to an OTLP/HTTP sink",
        flush=True,
    )

    apis: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    measured: dict[str, list[float]] = {
        "off": [],
        "off_again": [],
        "on_100pct": [],
        "on_10pct": [],
        "on_0pct": [],
    }
    cpu: dict[str, list[float]] = {name: [] for name in measured}  # microseconds of API CPU per request
    try:
        for name, extra in CONFIGURATIONS.items():
            apis[name] = start_api(name, base_env, {**tracing_env, **extra} if extra else {}, tmp)
        urls = {}
        for name, (_, base) in apis.items():
            token = asyncio.run(rt.access_token(base, tenant, email, password))
            urls[name] = (f"{base}/engine/predict", f"Bearer {token}")

        def load(name: str) -> tuple[float, float]:
            """req/s, and the API's CPU microseconds per request, of one wrk run."""
            url, auth = urls[name]
            pid = apis[name][0].pid
            before = rt.cpu_seconds(pid)
            result = rt.run_wrk("POST", url, body, auth, script)
            used = rt.cpu_seconds(pid) - before
            if result["failed"]:
                raise RuntimeError(f"{name}: {result['failed']} failed requests")
            return result["rps"], used / (result["rps"] * rt.DURATION) * 1e6

        for name in apis:
            load(name)  # warm-up: pools, caches, the exporter's connection
        # Interleaved rounds, so that a noisy neighbour on a shared machine hits every configuration alike.
        for _ in range(ROUNDS):
            for name, config in (
                ("off", "off"),
                ("on_100pct", "on_100pct"),
                ("on_10pct", "on_10pct"),
                ("on_0pct", "on_0pct"),
                ("off_again", "off"),
            ):
                rate, per_request = load(config)
                measured[name].append(rate)
                cpu[name].append(per_request)
        if PROFILE_DIR is not None:
            for name in apis:
                with rt.Profiler(apis[name][0].pid, PROFILE_DIR, f"tracing_{name}"):
                    load(name)
        rps = {name: statistics.median(values) for name, values in measured.items()}
        cpu_us = {name: statistics.median(values) for name, values in cpu.items()}
        print(
            f"req/s per round: {json.dumps({k: [round(v) for v in vs] for k, vs in measured.items()})}",
            flush=True,
        )
        print(
            f"API CPU us/req per round: {json.dumps({k: [round(v) for v in vs] for k, vs in cpu.items()})}",
            flush=True,
        )
        off = statistics.median(measured["off"] + measured["off_again"])
        off_cpu = statistics.median(cpu["off"] + cpu["off_again"])
        rt.emit(
            "engine_predict_rps_tracing_off",
            rps["off"],
            "req/s",
            "engine_predict_rps_tracing_off_repeat",
            rps["off_again"],
        )
        rt.emit(
            "engine_predict_rps_tracing_100pct",
            rps["on_100pct"],
            "req/s",
            "engine_predict_rps_tracing_off",
            off,
        )
        rt.emit(
            "engine_predict_rps_tracing_10pct",
            rps["on_10pct"],
            "req/s",
            "engine_predict_rps_tracing_off",
            off,
        )
        rt.emit(
            "engine_predict_rps_tracing_0pct",
            rps["on_0pct"],
            "req/s",
            "engine_predict_rps_tracing_off",
            off,
        )
        rt.emit(
            "engine_predict_cpu_us_tracing_off",
            cpu_us["off"],
            "us/req",
            "engine_predict_cpu_us_tracing_off_repeat",
            cpu_us["off_again"],
        )
        for pct in ("100pct", "10pct", "0pct"):
            rt.emit(
                f"engine_predict_cpu_us_tracing_{pct}",
                cpu_us[f"on_{pct}"],
                "us/req",
                "engine_predict_cpu_us_tracing_off",
                off_cpu,
            )
    finally:
        for proc, _ in apis.values():
            proc.terminate()
            proc.wait(timeout=30)
        sink.terminate()
        sink.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
