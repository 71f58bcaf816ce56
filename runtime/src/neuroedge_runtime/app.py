"""The app factory: `init_app(settings)` builds the runtime API; resources open and close in cleanup contexts.

Order of the contexts: PostgreSQL pool, Redis client, Qdrant client (when configured), then the services that
use them (and the first-admin bootstrap of every tenant with credentials).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import redis.asyncio as redis
from aiohttp import web

import neuroedge_runtime
from neuroedge_queue import tracecontext
from neuroedge_runtime import keys, middlewares, openapi, routes, routing, tracing
from neuroedge_runtime.auth.service import AuthService
from neuroedge_runtime.engines import registry as engine_registry
from neuroedge_runtime.engines.jobs import JobService
from neuroedge_runtime.engines.service import EngineService
from neuroedge_runtime.metrics import Metrics
from neuroedge_runtime.ratelimit import RateLimiter
from neuroedge_runtime.settings import RuntimeSettings
from neuroedge_runtime.tenancy.credentials import CredentialStore
from neuroedge_runtime.tenancy.registry import TenantRegistry
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
    )
    app[keys.POOL] = pool
    yield
    await pool.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    client = redis.Redis.from_url(app[keys.SETTINGS].redis_url, socket_timeout=5, socket_connect_timeout=5)
    app[keys.REDIS] = client
    yield
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


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings, pool = app[keys.SETTINGS], app[keys.POOL]
    registry = TenantRegistry(pool, settings.registry_cache_seconds)
    app[keys.AUTH] = AuthService(pool, app[keys.CREDENTIALS], registry, settings)
    app[keys.LIMITER] = RateLimiter(app[keys.REDIS])
    app[keys.VECTORS] = VectorService(pool, app.get(keys.QDRANT))
    app[keys.ENGINES] = EngineService(pool, engine_registry.builtin())
    app[keys.JOBS] = JobService(
        app[keys.ENGINES], app[keys.REDIS], settings.pool, settings.job_result_ttl_seconds
    )
    await app[keys.AUTH].bootstrap_all()
    yield


def init_app(settings: RuntimeSettings) -> web.Application:
    """The runtime API application for `settings`."""
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # With tracing on (tracing.install ran), the request's span encloses everything else.
        middlewares=[
            *([tracing.middleware] if tracecontext.active() else []),
            middlewares.observe,
            middlewares.errors,
            middlewares.authenticate,
        ],
    )
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics()
    app[keys.CREDENTIALS] = CredentialStore(settings.credentials_dir, settings.credentials_check_seconds)
    specs = routes.table()
    app[keys.ROUTES] = routing.install(app, specs)
    app[ops.OPENAPI] = json.dumps(openapi.document(specs, neuroedge_runtime.__version__)).encode()
    app.cleanup_ctx.extend([_database, _redis, _qdrant, _services])
    return app
