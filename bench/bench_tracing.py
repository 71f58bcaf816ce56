"""Benchmark of tracing's cost: authenticated `/engine/predict` requests per second of the runtime API with
tracing off (no OTEL_* variable: nothing installed) beside the same with tracing on at 100% and at 10%
sampling (`parentbased_traceidratio`), in one run. Goals: off costs nothing measurable (< 2%; its baseline is
a second off run, the noise floor), 10% sampling costs < 10%.

Each configuration is its own `neuroedge-runtime api` process against the same tenant and engine, measured
with the load generator of bench_runtime.py; with tracing on, spans go over OTLP/HTTP to a sink process that
accepts and discards them, so the figure is the runtime's own cost (SDK, span processing, export), not a
collector's. The configurations are measured in interleaved rounds (`BENCH_ROUNDS`, 3) and each figure is
the median, so that a busy neighbour on a shared machine disturbs all of them alike. Needs DATABASE_URL
(superuser) and REDIS_URL; prints one JSON object per result.
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
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "off": {},
    "on_100pct": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    "on_10pct": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
}


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
    admin_dsn, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-tracing-"))
    credentials = tmp / "credentials"
    dsn, tenant, email, password = asyncio.run(rt.provision(admin_dsn, credentials))
    sink_port = rt.free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)])
    base_env = {
        **os.environ,
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
    print(
        f"load generator: wrk, {rt.CONNECTIONS} connections, "
        f"{rt.DURATION:g}s per run; tracing exports to an OTLP/HTTP sink",
        flush=True,
    )

    apis: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    measured: dict[str, list[float]] = {"off": [], "off_again": [], "on_100pct": [], "on_10pct": []}
    try:
        for name, extra in CONFIGURATIONS.items():
            apis[name] = start_api(name, base_env, {**tracing_env, **extra} if extra else {}, tmp)
        urls = {}
        for name, (_, base) in apis.items():
            token = asyncio.run(rt.access_token(base, tenant, email, password))
            urls[name] = (f"{base}/engine/predict", f"Bearer {token}")

        def load(name: str) -> float:
            url, auth = urls[name]
            result = rt.run_wrk("POST", url, body, auth, script)
            if result["failed"]:
                raise RuntimeError(f"{name}: {result['failed']} failed requests")
            return result["rps"]

        for name in apis:
            load(name)  # warm-up: pools, caches, the exporter's connection
        # Interleaved rounds, so that a noisy neighbour on a shared machine hits every configuration alike.
        for _ in range(ROUNDS):
            for name, config in (
                ("off", "off"),
                ("on_100pct", "on_100pct"),
                ("on_10pct", "on_10pct"),
                ("off_again", "off"),
            ):
                measured[name].append(load(config))
        rps = {name: statistics.median(values) for name, values in measured.items()}
        print(
            f"req/s per round: {json.dumps({k: [round(v) for v in vs] for k, vs in measured.items()})}",
            flush=True,
        )
        off = statistics.median(measured["off"] + measured["off_again"])
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
