"""`neuroedge-runtime worker`: the worker process. Loads WorkerSettings from the environment once, serves
Prometheus metrics, runs the Worker, and turns SIGTERM/SIGINT into a graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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

from neuroedge_queue import telemetry, tracecontext
from neuroedge_runtime import tracing
from neuroedge_runtime.agents import loop as agent_loop
from neuroedge_runtime.agents import tools as agent_tools
from neuroedge_runtime.engines import agent as rule_agent
from neuroedge_runtime.engines import context, onnx, registry, testing
from neuroedge_runtime.engines.service import EngineService
from neuroedge_runtime.llm import budget, metering, upstream
from neuroedge_runtime.queue import metrics, settings, worker, worker_vectors
from neuroedge_runtime.serving import artifacts, local
from neuroedge_runtime.tenancy.registry import TenantRegistry
from neuroedge_runtime.vectors import ingest_worker, retrieval

log = logging.getLogger("neuroedge_runtime.worker")


def engines_for(
    config: settings.WorkerSettings,
    data: worker_vectors.WorkerData | None = None,
    agent: agent_loop.AgentRuntime | None = None,
) -> registry.Registry:
    """The engines this worker runs (with `data`: ingestion jobs, conversations over an index, and with
    `agent` LLM agents whose tools are the tenant's engines and indexes)."""
    engines = registry.builtin(
        retrieval.IndexRetriever(data.vectors) if data else None, data.embed if data else None
    )
    if data is not None:
        engines.register(ingest_worker.ENGINE, ingest_worker.handler(data.vectors, config.tenant))
    if agent is not None and data is not None:
        # The agent's `predict` tool runs the tenant's Engines with this very registry, in this worker.
        toolbox = agent_tools.Toolbox(EngineService(data.pool, engines, None), data.vectors)
        runtime = dataclasses.replace(agent, toolbox=toolbox)
        engines.add_kind(agent_loop.LLMAgentEngine(rule_agent.AgentEngine(), runtime), replace=True)
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
    async with (
        worker_vectors.vectors(config) as data,
        _models(config) as models,
        upstream.new_session() as session,
    ):
        agent = _agent_runtime(data, client, session)
        engines = engines_for(config, data, agent)
        engines.add_kind(onnx.OnnxEngine(models))
        await _consume(config, client, engines)


def _agent_runtime(
    data: worker_vectors.WorkerData | None, client: aioredis.Redis, session: aiohttp.ClientSession
) -> agent_loop.AgentRuntime | None:
    """LLM agents' process resources (budgets in the queue's Redis, metering in the database), or None for a
    worker without a database."""
    if data is None:
        return None
    return agent_loop.AgentRuntime(
        session=session,
        budgets=budget.Budgets(client),
        usage=metering.UsageStore(data.pool),
        tenants=TenantRegistry(data.pool, None),
        toolbox=agent_tools.Toolbox(None, None),
        metrics=metering.LLMMetrics(prometheus_client.REGISTRY),
    )


@contextlib.asynccontextmanager
async def _models(config: settings.WorkerSettings) -> AsyncIterator[local.LocalModels]:
    """The worker's trained models (the `onnx` kind): one HTTP client and one inference executor. Volume
    models are read where the pool's pods mount them, by the API's own resolver (`artifacts.Fetcher`)."""
    executor = ThreadPoolExecutor(config.inference_threads, thread_name_prefix="inference")
    locations = artifacts.Locations(
        Path(config.model_cache_dir), Path(config.model_mount_dir), config.model_max_bytes
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
        traces = telemetry.Settings.from_env(os.environ if env is None else env, "neuroedge-runtime-worker")
    except (settings.SettingsError, telemetry.TracingConfigError) as exc:
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
