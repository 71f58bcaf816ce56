"""Typed application and request keys: everything the app shares lives under one of these."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
import redis.asyncio as redis
from aiohttp import web

from neuroedge_runtime.auth.service import AuthService, Principal
from neuroedge_runtime.deadlines import Deadlines
from neuroedge_runtime.embeddings.providers import Embedder
from neuroedge_runtime.embeddings.resolver import Resolver
from neuroedge_runtime.engines.jobs import JobService
from neuroedge_runtime.engines.service import EngineService
from neuroedge_runtime.llm.gateway import Gateway
from neuroedge_runtime.metrics import Metrics
from neuroedge_runtime.ratelimit import RateLimiter
from neuroedge_runtime.routing import RouteSpec
from neuroedge_runtime.serving.models_catalog import ModelSource
from neuroedge_runtime.serving.service import ModelService
from neuroedge_runtime.settings import RuntimeSettings
from neuroedge_runtime.tenancy import changes
from neuroedge_runtime.tenancy.credentials import CredentialStore
from neuroedge_runtime.vectors.ingest_service import IngestService
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
REGISTRY_FEED = web.AppKey("registry_feed", changes.Feed)  # only set when registry rows are cached
AUTH = web.AppKey("auth", AuthService)
LIMITER = web.AppKey("limiter", RateLimiter)
BOUNDS = web.AppKey("bounds", Deadlines)
"""The timers that bound requests and the rate limiter's calls (one set per app, shared by both)."""
VECTORS = web.AppKey("vectors", VectorService)
ENGINES = web.AppKey("engines", EngineService)
JOBS = web.AppKey("jobs", JobService)
MODELS = web.AppKey("models", ModelService)
INGEST = web.AppKey("ingest", IngestService)
EMBEDDERS: web.AppKey[dict[str, Embedder]] = web.AppKey("embedders")
"""Embedding models served by /v1/embeddings, by model id (the built-in one at least)."""
EMBEDDING_RESOLVER = web.AppKey("embedding_resolver", Resolver)
"""The embedder of a VectorIndex (built-in, or an external provider through one shared HTTP session)."""
MODEL_SOURCES: web.AppKey[list[ModelSource]] = web.AppKey("model_sources")
"""What GET /v1/models lists: each source adds its models for a tenant (see serving.models_catalog)."""
LLM = web.AppKey("llm", Gateway)

PRINCIPAL = web.RequestKey("principal", Principal)
