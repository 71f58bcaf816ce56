"""`neuroedge-runtime worker`: the worker process. Loads WorkerSettings from the environment once, serves
Prometheus metrics, runs the Worker, and turns SIGTERM/SIGINT into a graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Mapping

import prometheus_client
import redis.asyncio as aioredis

from neuroedge_queue import tracecontext
from neuroedge_runtime import tracing
from neuroedge_runtime.engines import registry, testing
from neuroedge_runtime.queue import metrics, settings, worker

log = logging.getLogger("neuroedge_runtime.worker")


def engines_for(config: settings.WorkerSettings) -> registry.Registry:
    """The engines this worker runs."""
    engines = registry.builtin()
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
    consumer = worker.Worker(
        config, client, engines_for(config), metrics.WorkerMetrics(prometheus_client.REGISTRY)
    )
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
