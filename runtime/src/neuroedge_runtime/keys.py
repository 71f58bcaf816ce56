"""Typed application and request keys: everything the app shares lives under one of these."""

from __future__ import annotations

import asyncpg
import redis.asyncio as redis
from aiohttp import web
from qdrant_client import AsyncQdrantClient

from neuroedge_runtime.auth.service import AuthService, Principal
from neuroedge_runtime.engines.service import EngineService
from neuroedge_runtime.metrics import Metrics
from neuroedge_runtime.ratelimit import RateLimiter
from neuroedge_runtime.routing import RouteSpec
from neuroedge_runtime.settings import RuntimeSettings
from neuroedge_runtime.tenancy.credentials import CredentialStore
from neuroedge_runtime.vectors.service import VectorService

SETTINGS = web.AppKey("settings", RuntimeSettings)
METRICS = web.AppKey("metrics", Metrics)
CREDENTIALS = web.AppKey("credentials", CredentialStore)
ROUTES = web.AppKey("routes", dict[web.AbstractRoute, RouteSpec])
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", redis.Redis)
QDRANT = web.AppKey("qdrant", AsyncQdrantClient)
AUTH = web.AppKey("auth", AuthService)
LIMITER = web.AppKey("limiter", RateLimiter)
VECTORS = web.AppKey("vectors", VectorService)
ENGINES = web.AppKey("engines", EngineService)

PRINCIPAL = web.RequestKey("principal", Principal)
REQUEST_ID = web.RequestKey("request_id", str)
