"""Operational endpoints: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import redis.exceptions
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from neuroedge_runtime import keys, problems

log = logging.getLogger(__name__)
OPENAPI = web.AppKey("openapi", bytes)


class Health(BaseModel):
    """The process is alive (or ready)."""

    status: str


_OK = Health(status="ok").model_dump_json().encode()


async def health(request: web.Request) -> web.Response:
    """Liveness: the event loop answers (a body serialised once, at import)."""
    return web.Response(body=_OK, content_type="application/json")


async def ready(request: web.Request) -> web.Response:
    """Readiness: PostgreSQL and Redis answer within a second."""
    app = request.app
    try:
        async with asyncio.timeout(1.0):
            async with app[keys.POOL].acquire() as conn:
                await conn.fetchval("SELECT 1")
            await app[keys.REDIS].ping()
    except (
        TimeoutError,
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        redis.exceptions.RedisError,
    ) as exc:
        log.warning("not ready: %s", type(exc).__name__)
        raise problems.unavailable("a dependency (database or Redis) is not reachable") from None
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of this app's metrics."""
    body = generate_latest(request.app[keys.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this API."""
    return web.Response(body=request.app[OPENAPI], content_type="application/json")
