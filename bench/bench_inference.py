"""Benchmark of model serving: Open Inference Protocol v2 inference of a small trained model (a scikit-learn
iris classifier converted to ONNX) at 64 concurrent clients, one row per request, with dynamic batching off
and on, beside an in-process ONNX Runtime loop over the same rows (the ceiling: no HTTP, no auth, no JSON);
and the resident memory each loaded model adds to the runtime, beside the size of its file.

The runtime runs as `neuroedge runtime api` in its own process, the load generator (bench_runtime's wrk)
in another. Needs DATABASE_URL (superuser) and REDIS_URL; prints one JSON object per result.
Goals: batched >= 0.5x the ceiling's rows/s, and >= 2x the unbatched throughput.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import bench_runtime

DURATION = float(os.environ.get("BENCH_DURATION", "6"))
CLIENTS = 64
MEMORY_MODELS = 4


def iris_model() -> tuple[bytes, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    clf = LogisticRegression(max_iter=1000).fit(x, y)
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


def main() -> int:
    admin_dsn, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-inference-"))
    dsn, tenant, email, password = asyncio.run(bench_runtime.provision(admin_dsn, tmp / "credentials"))
    model, rows = iris_model()
    store = tmp / "mounts" / "pvc" / "models"
    store.mkdir(parents=True)
    (store / "iris.onnx").write_bytes(model)
    forests = [forest_model(seed) for seed in range(MEMORY_MODELS)]
    for i, data in enumerate(forests):
        (store / f"forest-{i}.onnx").write_bytes(data)
    engines: dict[str, dict[str, object]] = {
        "iris": {"uri": "pvc://models/iris.onnx"},
        "iris-batched": {
            "uri": "pvc://models/iris.onnx",
            "batching": {"maxBatchSize": 64, "maxDelayMilliseconds": 2},
        },
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
        asyncio.run(touch(base, token, ["iris", "iris-batched"]))
        time.sleep(0.5)
        before = bench_runtime.rss_mb(runtime.pid)
        asyncio.run(touch(base, token, [f"forest-{i}" for i in range(MEMORY_MODELS)]))
        time.sleep(0.5)
        per_model = (bench_runtime.rss_mb(runtime.pid) - before) / MEMORY_MODELS
        file_mb = sum(len(f) for f in forests) / MEMORY_MODELS / 1e6
        print(f"{CLIENTS} clients, {DURATION:g}s per run, one iris row per request", flush=True)

        def infer(name: str) -> dict[str, float]:
            body = json.dumps(
                {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": rows[57].tolist()}]}
            )
            return load(f"{base}/v2/models/{name}/infer", body, auth, script)

        infer("iris")  # warm-up of the runtime, its pools and the client
        unbatched = infer("iris")
        batched = infer("iris-batched")
        bare = ceiling(model, rows, DURATION)
        emit = bench_runtime.emit
        emit(
            "inference_unbatched_rows_per_s",
            unbatched["rps"],
            "rows/s",
            "onnxruntime_inprocess_rows_per_s",
            bare,
        )
        emit(
            "inference_batched_rows_per_s", batched["rps"], "rows/s", "onnxruntime_inprocess_rows_per_s", bare
        )
        emit(
            "inference_batched_vs_unbatched_rps",
            batched["rps"],
            "req/s",
            "inference_unbatched_rps",
            unbatched["rps"],
        )
        for p in ("p50", "p99"):
            emit(f"inference_batched_{p}", batched[p], "ms", f"inference_unbatched_{p}", unbatched[p])
        emit("inference_rss_per_model", per_model, "MB", "model_file_size", file_mb)
    finally:
        runtime.terminate()
        runtime.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
