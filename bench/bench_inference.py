"""Benchmark of model serving: Open Inference Protocol v2 inference at 64 concurrent clients, one row per
request, with dynamic batching off and on, beside an in-process ONNX Runtime loop over the same rows (the
ceiling: no HTTP, no auth, no JSON), for two trained models:
- a scikit-learn iris classifier (tens of microseconds a run: the HTTP path is all there is to measure; the
  bare aiohttp hello-world's requests/s beside the same ceiling shows how far any HTTP server can get);
- a digits MLP classifier (two hidden layers of 2,048, 17 MB: a run costs hundreds of microseconds, so what
  batching saves shows).
And the resident memory each loaded model adds to the runtime, beside the size of its file, and what the
model cache charges for it against the memory cap, beside that measured growth.

The runtime runs as `neuroedge runtime api` in its own process, the load generator (bench_runtime's wrk)
in another. Needs DATABASE_URL (superuser) and REDIS_URL; prints one JSON object per result.
Goals: batched >= 0.5x the ceiling's rows/s, and >= 2x the unbatched throughput (each figure the median of
`ROUNDS` interleaved rounds).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from sklearn.datasets import load_digits, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

import bench_runtime

DURATION = float(os.environ.get("BENCH_DURATION", "6"))
CLIENTS = 64
MEMORY_MODELS = 5
PROFILE_DIR = Path(os.environ["BENCH_PROFILE"]) if os.environ.get("BENCH_PROFILE") else None


def iris_model() -> tuple[bytes, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = LogisticRegression(max_iter=1000).fit(x, y)
    onx = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    return onx.SerializeToString(), x


def digits_mlp() -> tuple[bytes, np.ndarray]:
    """An MLP digits classifier (64 -> 2048 -> 2048 -> 10), trained for two epochs (enough to classify; the
    benchmark is about its cost per run, which training longer does not change)."""
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32)
    clf = MLPClassifier(hidden_layer_sizes=(2048, 2048), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    onx = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    return onx.SerializeToString(), x


def forest_model(seed: int) -> bytes:
    """A larger model (random forest) for the memory measure; each seed gives different bytes."""
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=seed).fit(x, y)
    onx = to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=17)
    return onx.SerializeToString()


def ceiling(model: bytes, rows: np.ndarray, seconds: float) -> float:
    """Rows per second of a bare ONNX Runtime loop, one row per run (what each request asks for)."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    count, i = 0, 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        session.run(None, {"X": rows[i : i + 1]})
        count += 1
        i = (i + 1) % len(rows)
    return count / (time.perf_counter() - started)


async def register(admin_dsn: str, tenant: str, engines: dict[str, dict[str, object]]) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        for name, model in engines.items():
            await conn.execute(
                "INSERT INTO neuroedge.engines (tenant_id, name, kind, model) "
                "VALUES ($1, $2, 'predictive', $3)",
                tenant,
                name,
                json.dumps(model),
            )
    finally:
        await conn.close()


async def touch(base: str, token: str, names: list[str]) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for name in names:
            async with session.get(f"{base}/v2/models/{name}/ready") as resp:
                if resp.status != 200:
                    raise RuntimeError(f"model {name} not ready: {await resp.text()}")


def load(url: str, body: str, auth: str, script: Path) -> dict[str, float]:
    """One wrk run of CLIENTS connections (bench_runtime's: refused when wrk is the bottleneck)."""
    result = bench_runtime.run_wrk("POST", url, body, auth, script, connections=CLIENTS)
    if result["failed"]:
        raise RuntimeError(f"{url}: {result['failed']} failed requests")
    return result


def models_loaded_bytes(base: str) -> float:
    """The model cache's charge for its loaded models (the runtime's `neuroedge_models_loaded_bytes`)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("neuroedge_models_loaded_bytes "):
                return float(line.split()[1])
    raise RuntimeError("the runtime exports no neuroedge_models_loaded_bytes")


def hello_rps(script: Path) -> float:
    """Requests/s of the bare aiohttp hello-world under the same load: the most any aiohttp server serves."""
    port = bench_runtime.free_port()
    hello = bench_runtime.start_hello(port, os.environ.get("NEUROEDGE_EVENT_LOOP", "uvloop"))
    try:
        url = f"http://127.0.0.1:{port}/"
        bench_runtime.wait_http(url)
        bench_runtime.run_wrk("GET", url, "", "", script, connections=CLIENTS)  # warm-up
        return bench_runtime.run_wrk("GET", url, "", "", script, connections=CLIENTS)["rps"]
    finally:
        hello.terminate()
        hello.wait(timeout=30)


def infer_body(rows: np.ndarray) -> str:
    """One row of `rows` as an OIP request body."""
    row = rows[57:58]
    return json.dumps(
        {"inputs": [{"name": "X", "shape": list(row.shape), "datatype": "FP32", "data": row[0].tolist()}]}
    )


@dataclass(frozen=True)
class Target:
    """The running runtime under test: its URL, pid (for the profiler), bearer header and wrk script."""

    base: str
    pid: int
    auth: str
    script: Path


ROUNDS = 3
"""Unbatched and batched runs alternate this many times per model, and each figure is the median of its
rounds: on two cores shared with the load generator one run's unbatched figure moves by about 15%, so a
single pair of runs can put the batched/unbatched ratio on either side of a goal."""


def compare(prefix: str, target: Target, model: bytes, rows: np.ndarray, names: tuple[str, str]) -> None:
    """Unbatched and batched inference of one model, beside its in-process ceiling, each the median of
    `ROUNDS` interleaved rounds (with BENCH_PROFILE, the runtime sampled by py-spy during the first round's
    runs, as bench_runtime does)."""
    body = infer_body(rows)
    base, auth, script = target.base, target.auth, target.script
    load(f"{base}/v2/models/{names[0]}/infer", body, auth, script)  # warm-up of the runtime and its pools
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    bares: list[float] = []
    for round_ in range(ROUNDS):
        for name in names:
            with bench_runtime.Profiler(target.pid, PROFILE_DIR if round_ == 0 else None, f"infer_{name}"):
                runs[name].append(load(f"{base}/v2/models/{name}/infer", body, auth, script))
        bares.append(ceiling(model, rows, DURATION))
    print(
        f"{prefix or 'iris_'}rows/s per round: "
        + json.dumps(
            {name: [round(r["rps"]) for r in runs[name]] for name in names}
            | {"ceiling": [round(b) for b in bares]}
        ),
        flush=True,
    )
    unbatched = {key: statistics.median(r[key] for r in runs[names[0]]) for key in ("rps", "p50", "p99")}
    batched = {key: statistics.median(r[key] for r in runs[names[1]]) for key in ("rps", "p50", "p99")}
    bare = statistics.median(bares)
    emit = bench_runtime.emit
    ceiling_name = f"{prefix}onnxruntime_inprocess_rows_per_s"
    emit(f"{prefix}inference_unbatched_rows_per_s", unbatched["rps"], "rows/s", ceiling_name, bare)
    emit(f"{prefix}inference_batched_rows_per_s", batched["rps"], "rows/s", ceiling_name, bare)
    emit(
        f"{prefix}inference_batched_vs_unbatched_rps",
        batched["rps"],
        "req/s",
        f"{prefix}inference_unbatched_rps",
        unbatched["rps"],
    )
    for p in ("p50", "p99"):
        emit(
            f"{prefix}inference_batched_{p}",
            batched[p],
            "ms",
            f"{prefix}inference_unbatched_{p}",
            unbatched[p],
        )


def main() -> int:
    admin_dsn, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    dsn, tenant, email, password = asyncio.run(bench_runtime.provision(admin_dsn, tmp / "credentials"))
    model, rows = iris_model()
    mlp, digits = digits_mlp()
    store = tmp / "mounts" / "pvc" / "models"
    store.mkdir(parents=True)
    (store / "iris.onnx").write_bytes(model)
    (store / "mlp.onnx").write_bytes(mlp)
    forests = [forest_model(seed) for seed in range(MEMORY_MODELS)]
    for i, data in enumerate(forests):
        (store / f"forest-{i}.onnx").write_bytes(data)
    batching = {"maxBatchSize": 64, "maxDelayMilliseconds": 2}
    engines: dict[str, dict[str, object]] = {
        "iris": {"uri": "pvc://models/iris.onnx"},
        "iris-batched": {"uri": "pvc://models/iris.onnx", "batching": batching},
        "mlp": {"uri": "pvc://models/mlp.onnx"},
        "mlp-batched": {"uri": "pvc://models/mlp.onnx", "batching": batching},
        **{f"forest-{i}": {"uri": f"pvc://models/forest-{i}.onnx"} for i in range(MEMORY_MODELS)},
    }
    asyncio.run(register(admin_dsn, tenant, engines))
    port = bench_runtime.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "NEUROEDGE_CREDENTIALS_DIR": str(tmp / "credentials"),
        "NEUROEDGE_RUNTIME_PORT": str(port),
        "NEUROEDGE_MODEL_MOUNT_DIR": str(tmp / "mounts"),
        "NEUROEDGE_MODEL_CACHE_DIR": str(tmp / "cache"),
    }
    with (tmp / "runtime.log").open("w") as log:
        runtime = subprocess.Popen(
            [sys.executable, "-m", "neuroedge_runtime.cli", "api"],
            env=env,
            stderr=log,
            stdout=subprocess.DEVNULL,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        bench_runtime.wait_http(f"{base}/health")
        token = asyncio.run(bench_runtime.access_token(base, tenant, email, password))
        script = tmp / "bench.lua"
        script.write_text(bench_runtime.WRK_SCRIPT)
        auth = f"Bearer {token}"
        # The forests first, on their own: each load first returns the allocator's free pages to the system
        # (so that the cache charges it what it adds), which would also shrink the resident set measured here
        # if other models had come and gone before. The first forest's load is that return; the next ones add.
        asyncio.run(touch(base, token, ["forest-0"]))
        time.sleep(0.5)
        before, charged_before = bench_runtime.rss_mb(runtime.pid), models_loaded_bytes(base)
        asyncio.run(touch(base, token, [f"forest-{i}" for i in range(1, MEMORY_MODELS)]))
        time.sleep(0.5)
        per_model = (bench_runtime.rss_mb(runtime.pid) - before) / (MEMORY_MODELS - 1)
        charged = (models_loaded_bytes(base) - charged_before) / (MEMORY_MODELS - 1) / 2**20
        file_mb = sum(len(f) for f in forests) / MEMORY_MODELS / 1e6
        asyncio.run(touch(base, token, ["iris", "iris-batched", "mlp", "mlp-batched"]))
        print(f"{CLIENTS} clients, {DURATION:g}s per run, one row per request", flush=True)
        target = Target(base, runtime.pid, auth, script)
        compare("", target, model, rows, ("iris", "iris-batched"))
        compare("mlp_", target, mlp, digits, ("mlp", "mlp-batched"))
        emit = bench_runtime.emit
        emit("inference_rss_per_model", per_model, "MB", "model_file_size", file_mb)
        emit("inference_charged_per_model", charged, "MB", "inference_rss_per_model", per_model)
    finally:
        runtime.terminate()
        runtime.wait(timeout=30)
    bench_runtime.emit(
        "hello_rps_vs_inference_ceiling",
        hello_rps(script),
        "req/s",
        "onnxruntime_inprocess_rows_per_s",
        ceiling(model, rows, DURATION),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
