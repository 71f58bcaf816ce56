"""Typed application and request keys: everything the app shares lives under one of these."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import redis.asyncio as redis
from aiohttp import web

from neuroedge_runtime.auth.service import AuthService, Principal
from neuroedge_runtime.engines.jobs import JobService
from neuroedge_runtime.engines.service import EngineService
from neuroedge_runtime.llm.gateway import Gateway
from neuroedge_runtime.metrics import Metrics
from neuroedge_runtime.ratelimit import RateLimiter
from neuroedge_runtime.routing import RouteSpec
from neuroedge_runtime.settings import RuntimeSettings
from neuroedge_runtime.tenancy.credentials import CredentialStore
from neuroedge_runtime.vectors.service import VectorService

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient

SETTINGS = web.AppKey("settings", RuntimeSettings)
METRICS = web.AppKey("metrics", Metrics)
CREDENTIALS = web.AppKey("credentials", CredentialStore)
ROUTES = web.AppKey("routes", dict[web.AbstractRoute, RouteSpec])
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", redis.Redis)
QDRANT: web.AppKey[AsyncQdrantClient] = web.AppKey("qdrant")  # only set when Qdrant is configured
AUTH = web.AppKey("auth", AuthService)
LIMITER = web.AppKey("limiter", RateLimiter)
VECTORS = web.AppKey("vectors", VectorService)
ENGINES = web.AppKey("engines", EngineService)
JOBS = web.AppKey("jobs", JobService)
LLM = web.AppKey("llm", Gateway)

PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)
