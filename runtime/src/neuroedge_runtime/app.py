"""The app factory: `init_app(settings)` builds the runtime API; resources open and close in cleanup contexts.

Order of the contexts: PostgreSQL pool, Redis client, Qdrant client (when configured), the registry change
feed, model serving, the built-in embedding model, the LLM gateway, then the services that use them (the
gateway's retrieval and the LLM agent are wired to the vector and engine services there, and the first-admin
bootstrap of every tenant with credentials runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import asyncpg
import redis.asyncio as redis
from aiohttp import web

import neuroedge_runtime
from neuroedge_queue import tracecontext
from neuroedge_runtime import deadlines, keys, openapi, requestpath, respclient, routes, routing
from neuroedge_runtime.agents import loop as agent_loop
from neuroedge_runtime.agents import tools as agent_tools
from neuroedge_runtime.auth.service import AuthService
from neuroedge_runtime.embeddings import batcher as embedding_batcher
from neuroedge_runtime.embeddings import model as embedding_model
from neuroedge_runtime.embeddings import providers as embedding_providers
from neuroedge_runtime.embeddings import resolver as embedding_resolver
from neuroedge_runtime.engines import agent as rule_agent
from neuroedge_runtime.engines import registry as engine_registry
from neuroedge_runtime.engines.jobs import JobService
from neuroedge_runtime.engines.service import EngineService
from neuroedge_runtime.llm import budget, gateway, memory, metering, upstream
from neuroedge_runtime.llm import catalog as llm_catalog
from neuroedge_runtime.metrics import Metrics
from neuroedge_runtime.ratelimit import RateLimiter
from neuroedge_runtime.serving import artifacts, models_catalog, service
from neuroedge_runtime.settings import RuntimeSettings
from neuroedge_runtime.tenancy import changes, db
from neuroedge_runtime.tenancy.credentials import CredentialStore
from neuroedge_runtime.tenancy.registry import TenantRegistry
from neuroedge_runtime.vectors import retrieval as vector_retrieval
from neuroedge_runtime.vectors.ingest_service import IngestService
from neuroedge_runtime.vectors.service import VectorService
from neuroedge_runtime.views import ops


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.request_timeout_seconds,
        server_settings={
            "application_name": "neuroedge-runtime",
            "statement_timeout": str(settings.db_statement_timeout_ms),
        },
        reset=db.reset_connection,
    )
    app[keys.POOL] = pool
    yield
    await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    """The shared Redis client (5 s per socket operation), and the rate limiter's own: it runs once per
    request, so it goes through the lean pipelining client (`respclient`), each call bounded through the
    timers the request path's bounds use (`deadlines`)."""
    url = app[keys.SETTINGS].redis_url
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    app[keys.REDIS] = client
    limiter_client = respclient.Client(url, connect_timeout=5.0)
    app[keys.LIMITER] = RateLimiter(limiter_client, timeout_seconds=5.0, bounds=app[keys.BOUNDS])
    yield
    await limiter_client.aclose()
    await client.aclose()


async def _qdrant(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    if not (settings.qdrant_url or settings.qdrant_location):
        yield
        return
    # Imported only when configured: qdrant-client (with numpy and grpc) is ~60 MB of resident memory.
    from qdrant_client import AsyncQdrantClient  # noqa: PLC0415

    client: AsyncQdrantClient | None = None
    if settings.qdrant_url:
        client = AsyncQdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key, timeout=5)
    elif settings.qdrant_location:
        client = AsyncQdrantClient(location=settings.qdrant_location)
    if client is not None:
        app[keys.QDRANT] = client
    yield
    if client is not None:
        await client.close()


async def _registry_feed(app: web.Application) -> AsyncIterator[None]:
    """The registry change feed (one listening connection), when registry rows are cached."""
    settings = app[keys.SETTINGS]
    if not settings.registry_cache:
        yield
        return
    feed = changes.Feed(settings.database_url)
    app[keys.REGISTRY_FEED] = feed
    task = asyncio.create_task(feed.run(), name="registry-feed")
    await feed.wait_live(5)  # serve anyway if not: lookups then read the database
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _embeddings(app: web.Application) -> AsyncIterator[None]:
    """The built-in embedding model behind one batcher, loaded once per process on its first use (on the
    batcher's thread, off the event loop), and the HTTP session of external embedding providers."""
    model = embedding_model.LazyModel()
    batcher = embedding_batcher.Batcher(model.encode)
    batcher.start()
    builtin = embedding_providers.BuiltinEmbedder(batcher)
    embedders: dict[str, embedding_providers.Embedder] = {builtin.model_id: builtin}
    app[keys.EMBEDDERS] = embedders
    app[keys.MODEL_SOURCES].append(models_catalog.builtin_models)
    session = aiohttp.ClientSession()  # external embedding providers share it (connection pooling)
    app[keys.EMBEDDING_RESOLVER] = embedding_resolver.Resolver(embedders, session)
    yield
    await session.close()
    await batcher.close()


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings, pool, feed = app[keys.SETTINGS], app[keys.POOL], app.get(keys.REGISTRY_FEED)
    lookups = app[keys.METRICS].registry_lookups
    registry = TenantRegistry(pool, feed, lookups)
    app[keys.AUTH] = AuthService(pool, app[keys.CREDENTIALS], registry, settings)
    app[keys.VECTORS] = VectorService(pool, app.get(keys.QDRANT), app[keys.EMBEDDING_RESOLVER], feed, lookups)
    retriever = vector_retrieval.IndexRetriever(app[keys.VECTORS])
    builtin = app[keys.EMBEDDERS][embedding_model.MODEL_ID]

    async def embed(texts: list[str]) -> embedding_model.Matrix:
        """The built-in model's unit vectors (routers embed their utterances and texts with it)."""
        return (await builtin.embed(texts)).vectors

    engines = engine_registry.builtin(retriever, embed)
    app[keys.ENGINES] = EngineService(pool, engines, feed, lookups, app[keys.MODELS])
    gateway = app[keys.LLM]
    gateway.search = vector_retrieval.GatewaySearch(retriever)
    agent = agent_loop.AgentRuntime(
        session=gateway.session,
        budgets=gateway.budgets,
        usage=gateway.usage,
        tenants=registry,
        toolbox=agent_tools.Toolbox(app[keys.ENGINES], app[keys.VECTORS]),
        metrics=gateway.metrics,
    )
    engines.add_kind(agent_loop.LLMAgentEngine(rule_agent.AgentEngine(), agent), replace=True)
    app[keys.JOBS] = JobService(
        app[keys.ENGINES], app[keys.REDIS], settings.pool, settings.job_result_ttl_seconds
    )
    app[keys.INGEST] = IngestService(
        app[keys.VECTORS], app[keys.REDIS], settings.pool, settings.job_result_ttl_seconds
    )
    await app[keys.AUTH].bootstrap_all()
    yield


async def _serving(app: web.Application) -> AsyncIterator[None]:
    """Model serving: one HTTP client for artifacts, one executor for inference, one model service."""
    settings = app[keys.SETTINGS]
    executor = ThreadPoolExecutor(settings.inference_threads, thread_name_prefix="inference")
    session = aiohttp.ClientSession()
    locations = artifacts.Locations(
        settings.model_cache_dir, settings.model_mount_dir, settings.model_max_bytes
    )
    app[keys.MODELS] = service.ModelService(
        app[keys.POOL],
        artifacts.Fetcher(session, locations),
        service.ServingSettings(
            locations=locations,
            memory_cap_bytes=settings.model_memory_bytes,
            intra_op_threads=settings.intra_op_threads,
            retry_seconds=settings.model_retry_seconds,
            instance=settings.instance,
        ),
        executor,
        app[keys.METRICS],
        feed=app.get(keys.REGISTRY_FEED),
    )
    watcher = None
    if settings.engine and settings.tenant:
        watcher = asyncio.create_task(
            app[keys.MODELS].watch(settings.tenant, settings.engine, settings.model_watch_seconds)
        )
    yield
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    await app[keys.MODELS].close()
    await session.close()
    executor.shutdown(wait=False, cancel_futures=True)


async def _llm(app: web.Application) -> AsyncIterator[None]:
    """The LLM gateway: one pooled HTTP session to the upstream LLM servers for the whole process."""
    session = upstream.new_session()
    settings = app[keys.SETTINGS]
    app[keys.LLM] = gateway.Gateway(
        pool=app[keys.POOL],
        budgets=budget.Budgets(app[keys.REDIS]),
        memory=memory.Memory(
            app[keys.REDIS],
            memory.MemoryLimits(
                settings.llm_memory_messages, settings.llm_memory_tokens, settings.llm_memory_ttl_seconds
            ),
        ),
        usage=metering.UsageStore(app[keys.POOL]),
        metrics=metering.LLMMetrics(app[keys.METRICS].registry),
        session=session,
    )
    pool = app[keys.POOL]

    async def llm_engines(tenant: str) -> list[models_catalog.ModelCard]:
        """The tenant's LLM Engines, for GET /v1/models beside the built-in embedding model."""
        return [models_catalog.ModelCard(**card) for card in await llm_catalog.models(pool, tenant)]

    app[keys.MODEL_SOURCES].append(llm_engines)
    yield
    await session.close()


def _request_spans() -> requestpath.RequestSpans | None:
    """The requests' spans when tracing is on (tracing.install ran). Off: None, the tracing module is not even
    imported and the request path has no tracing step."""
    if not tracecontext.active():
        return None
    from neuroedge_runtime import tracing  # noqa: PLC0415

    return tracing.RequestSpans()


def init_app(settings: RuntimeSettings) -> web.Application:
    """The runtime API application for `settings`."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics()
    app[keys.CREDENTIALS] = CredentialStore(settings.credentials_dir, settings.credentials_check_seconds)
    specs = routes.table()
    app[keys.BOUNDS] = deadlines.Deadlines()
    steps = requestpath.Steps(
        app[keys.METRICS], settings.request_timeout_seconds, _request_spans(), app[keys.BOUNDS]
    )
    app[keys.ROUTES] = routing.install(app, specs, steps.wrap)
    requestpath.install_unmatched(app, steps)
    sources: list[models_catalog.ModelSource] = []
    app[keys.MODEL_SOURCES] = sources
    app[ops.OPENAPI] = json.dumps(openapi.document(specs, neuroedge_runtime.__version__)).encode()
    app.cleanup_ctx.extend(
        [_database, _redis, _qdrant, _registry_feed, _serving, _embeddings, _llm, _services]
    )
    return app
