"""`neuroedge-runtime worker`: the worker process. Loads WorkerSettings from the environment once, serves
Prometheus metrics, runs the Worker, and turns SIGTERM/SIGINT into a graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import prometheus_client
import redis.asyncio as aioredis

from neuroedge_queue import tracecontext
from neuroedge_runtime import tracing
from neuroedge_runtime.engines import context, onnx, registry, testing
from neuroedge_runtime.queue import metrics, settings, worker, worker_vectors
from neuroedge_runtime.serving import artifacts, local
from neuroedge_runtime.vectors import ingest_worker, retrieval
from neuroedge_runtime.vectors.service import VectorService

log = logging.getLogger("neuroedge_runtime.worker")


def engines_for(config: settings.WorkerSettings, vectors: VectorService | None = None) -> registry.Registry:
    """The engines this worker runs (with `vectors`: ingestion jobs, and conversations over an index)."""
    engines = registry.builtin(retrieval.IndexRetriever(vectors) if vectors else None)
    if vectors is not None:
        engines.register(ingest_worker.ENGINE, ingest_worker.handler(vectors, config.tenant))
    if config.test_engines:
        testing.register(engines)
    return engines


def dump_tasks() -> None:
    """SIGUSR1: print where every task of the worker is waiting (to diagnose a stuck worker in place)."""
    for task in asyncio.all_tasks():
        print(f"--- {task.get_name()}", file=sys.stderr)
        task.print_stack(file=sys.stderr)
    sys.stderr.flush()


async def serve(config: settings.WorkerSettings) -> None:
    """Run a worker until SIGTERM or SIGINT, then drain it."""
    # No call may hang forever on a half-open connection: the timeout leaves room for XREADGROUP's BLOCK.
    client = aioredis.Redis.from_url(
        config.redis_url,
        socket_keepalive=True,
        socket_connect_timeout=5,
        socket_timeout=config.block_ms / 1000 + 10,
        health_check_interval=30,
    )
    context.TENANT.set(config.tenant)  # every job of this worker runs for its tenant
    async with worker_vectors.vectors(config) as vectors, _models(config) as models:
        engines = engines_for(config, vectors)
        engines.add_kind(onnx.OnnxEngine(models))
        await _consume(config, client, engines)


@contextlib.asynccontextmanager
async def _models(config: settings.WorkerSettings) -> AsyncIterator[local.LocalModels]:
    """The worker's trained models (the `onnx` kind): one HTTP client and one inference executor."""
    executor = ThreadPoolExecutor(config.inference_threads, thread_name_prefix="inference")
    # No model volumes on worker pods: /engine/run takes only http(s) models (the API refuses the others).
    locations = artifacts.Locations(
        Path(config.model_cache_dir), Path("/nonexistent"), config.model_max_bytes
    )
    async with aiohttp.ClientSession() as session:
        models = local.LocalModels(artifacts.Fetcher(session, locations), executor, config.model_memory_bytes)
        try:
            yield models
        finally:
            await models.close()
            executor.shutdown(wait=False, cancel_futures=True)


async def _consume(
    config: settings.WorkerSettings, client: aioredis.Redis, engines: registry.Registry
) -> None:
    consumer = worker.Worker(config, client, engines, metrics.WorkerMetrics(prometheus_client.REGISTRY))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, consumer.stop)
    loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
    log.info(
        "worker %s of pool %s/%s: concurrency %d, max deliveries %d, claim idle %gs",
        config.consumer,
        config.tenant,
        config.pool,
        config.concurrency,
        config.max_deliveries,
        config.claim_idle,
    )
    try:
        await consumer.run()
    finally:
        await client.aclose()
    log.info("worker %s stopped", config.consumer)


def main(env: Mapping[str, str] | None = None) -> int:
    """Entry point; exit status 2 on bad settings."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(tracecontext.TraceFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(
        level=(env or os.environ).get("NEUROEDGE_LOG_LEVEL", "INFO").upper(), handlers=[handler]
    )
    try:
        config = settings.from_env(os.environ if env is None else env)
        traces = tracing.Settings.from_env(os.environ if env is None else env, "neuroedge-runtime-worker")
    except (settings.SettingsError, tracing.TracingConfigError) as exc:
        print(f"neuroedge-runtime worker: {exc}", file=sys.stderr)
        return 2
    if config.metrics_port:
        prometheus_client.start_http_server(config.metrics_port)
    provider = tracing.install(traces)
    try:
        asyncio.run(serve(config))
    finally:
        if provider is not None:
            provider.shutdown()  # flushes the spans still batched
    return 0
