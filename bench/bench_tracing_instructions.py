"""Benchmark of tracing's cost in CPU instructions per authenticated `/engine/predict` request: tracing off
beside tracing on at 0%, 10% and 100% sampling, each API under callgrind (valgrind, from Debian) while one
wrk connection sends requests one after another.

Why, beside bench_tracing.py's requests per second: on a shared 2-core machine throughput and CPU time move
by several percent between runs with the neighbours' load, as much as what is measured. Instructions do
not: two runs of the same configuration agree to within about 0.5% (the `_off` result's baseline is a
second off run, which shows it). So this is the figure that tells a small change to the request path's
cost from noise; it cannot show what instructions do not count (cache misses, the kernel's side of a
syscall), which is why bench_tracing.py's throughput stays the goal's measure.

Each configuration: the API started under `valgrind --tool=callgrind --instr-atstart=no` (counting off during
startup), warmed up, then counting switched on (`callgrind_control -i on`) for one measured wrk run and off
again; instructions of all the API's threads (the exporter thread too) divided by the requests wrk
completed. Spans go over OTLP/HTTP to a sink that discards them, as in bench_tracing.py. Needs DATABASE_URL
(superuser) and REDIS_URL; prints one JSON object per result.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys

import bench_runtime as rt
import bench_tracing as bt
from neuroedge_dev import toolchain

WARMUP_SECONDS = float(os.environ.get("BENCH_INSTRUCTIONS_WARMUP", "10"))
MEASURED_SECONDS = float(os.environ.get("BENCH_INSTRUCTIONS_SECONDS", "15"))
STARTUP_SECONDS = 300.0
"""Importing the runtime under callgrind is some fifty times slower than without it."""
RUNS = (
    ("off", "off"),
    ("off_again", "off"),
    ("on_0pct", "on_0pct"),
    ("on_10pct", "on_10pct"),
    ("on_100pct", "on_100pct"),
)
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions_per_request(name: str, env: dict[str, str], staged: bt.Stage) -> tuple[float, int]:
    """Instructions per request of one configuration's API (and the requests they were counted over)."""
    port = rt.free_port()
    tmp = staged.tmp
    valgrind_log = tmp / f"valgrind-{name}.log"
    argv = [
        str(toolchain.valgrind()),
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={tmp / f'callgrind-{name}.out'}",
        f"--log-file={valgrind_log}",
        sys.executable,
        "-m",
        "neuroedge_runtime.cli",
        "api",
    ]
    with (tmp / f"runtime-{name}.log").open("w") as log:
        proc = subprocess.Popen(
            argv, env={**env, "NEUROEDGE_RUNTIME_PORT": str(port)}, stderr=log, stdout=subprocess.DEVNULL
        )
    try:
        base = f"http://127.0.0.1:{port}"
        rt.wait_http(f"{base}/health", seconds=STARTUP_SECONDS)
        token = asyncio.run(rt.access_token(base, staged.tenant, staged.email, staged.password))
        url, auth = f"{base}/engine/predict", f"Bearer {token}"
        script, body = staged.script, staged.body
        rt.run_wrk("POST", url, body, auth, script, connections=1, seconds=WARMUP_SECONDS)
        _callgrind_control("-i", "on", proc.pid)
        result = rt.run_wrk("POST", url, body, auth, script, connections=1, seconds=MEASURED_SECONDS)
        _callgrind_control("-i", "off", proc.pid)
        if result["failed"] or not result["requests"]:
            raise RuntimeError(f"{name}: {result['failed']} failed of {result['requests']} requests")
    finally:
        proc.terminate()
        proc.wait(timeout=STARTUP_SECONDS)
    found = _COLLECTED.search(valgrind_log.read_text())
    if found is None:
        raise RuntimeError(f"{name}: callgrind reported no total ({valgrind_log})")
    requests = int(result["requests"])
    return int(found.group(1)) / requests, requests


def _callgrind_control(*args: str | int) -> None:
    subprocess.run(
        [str(toolchain.callgrind_control()), *map(str, args)], check=True, capture_output=True, timeout=60
    )


def main() -> int:
    staged = bt.stage("bench-tracing-instructions-")
    tmp, sink = staged.tmp, staged.sink
    print(
        f"callgrind, one wrk connection: {WARMUP_SECONDS:g}s warm-up, {MEASURED_SECONDS:g}s counted per "
        "configuration; tracing exports to an OTLP/HTTP sink",
        flush=True,
    )
    per_request: dict[str, float] = {}
    try:
        for name, config in RUNS:
            extra = bt.CONFIGURATIONS[config]
            env = {**staged.base_env, **staged.tracing_env, **extra} if extra else staged.base_env
            per_request[name], requests = instructions_per_request(name, env, staged)
            print(f"{name}: {per_request[name]:,.0f} instructions per request over {requests} requests")
    finally:
        sink.terminate()
        sink.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    rt.emit(
        "engine_predict_instructions_tracing_off",
        per_request["off"],
        "instructions/req",
        "engine_predict_instructions_tracing_off_repeat",
        per_request["off_again"],
    )
    for pct in ("0pct", "10pct", "100pct"):
        rt.emit(
            f"engine_predict_instructions_tracing_{pct}",
            per_request[f"on_{pct}"],
            "instructions/req",
            "engine_predict_instructions_tracing_off",
            per_request["off"],
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
