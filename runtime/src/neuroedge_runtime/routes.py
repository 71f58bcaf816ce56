"""The API's route table: the single list the router, the auth middleware and the OpenAPI document use."""

from __future__ import annotations

from typing import Literal

from neuroedge_runtime.auth.roles import Role
from neuroedge_runtime.routing import PUBLIC, Handler, RouteSpec
from neuroedge_runtime.serving import models_catalog
from neuroedge_runtime.vectors import ingest_service, ingestion, models
from neuroedge_runtime.views import auth, data, inference, ingest, jobs, llm, openai_embeddings, ops, users


def table() -> list[RouteSpec]:
    """Every route of the runtime API."""
    return [*_core(), *_openai()]


def _openai() -> list[RouteSpec]:
    """The OpenAI-compatible routes (errors in OpenAI's shape)."""
    return [
        RouteSpec(
            "POST",
            "/v1/embeddings",
            openai_embeddings.create_embeddings,
            Role.VIEWER,
            "Embed texts (OpenAI-compatible)",
            "openai",
            body=openai_embeddings.EmbeddingsRequest,
            response=openai_embeddings.EmbeddingsResponse,
        ),
        RouteSpec(
            "GET",
            "/v1/models",
            openai_embeddings.list_models,
            Role.VIEWER,
            "Models the tenant can use (OpenAI-compatible)",
            "openai",
            response=models_catalog.ModelList,
        ),
        RouteSpec(
            "GET",
            "/v1/models/{model_id}",
            openai_embeddings.get_model,
            Role.VIEWER,
            "One model (OpenAI-compatible)",
            "openai",
            response=models_catalog.ModelCard,
            path_patterns=(("model_id", openai_embeddings.MODEL_ID_PATTERN),),
        ),
    ]


def _core() -> list[RouteSpec]:
    """The platform's own routes."""
    return [
        RouteSpec(
            "GET", "/health", ops.health, PUBLIC, "Liveness", "operations", response=ops.Health, probe=True
        ),
        RouteSpec(
            "GET",
            "/ready",
            ops.ready,
            PUBLIC,
            "Readiness: database and Redis reachable",
            "operations",
            response=ops.Health,
            probe=True,
        ),
        RouteSpec(
            "GET",
            "/metrics",
            ops.metrics,
            PUBLIC,
            "Prometheus metrics",
            "operations",
            response_type="text/plain",
            probe=True,
        ),
        RouteSpec("GET", "/openapi.json", ops.openapi, PUBLIC, "This document", "operations"),
        RouteSpec(
            "POST",
            "/auth/login",
            auth.login,
            PUBLIC,
            "Log in with tenant, email and password",
            "auth",
            body=auth.LoginRequest,
            response=auth.TokenResponse,
        ),
        RouteSpec(
            "POST",
            "/auth/refresh",
            auth.refresh,
            PUBLIC,
            "Rotate a refresh token",
            "auth",
            body=auth.RefreshRequest,
            response=auth.TokenResponse,
        ),
        RouteSpec(
            "POST",
            "/auth/logout",
            auth.logout,
            PUBLIC,
            "Revoke a refresh token's session",
            "auth",
            body=auth.RefreshRequest,
            status=204,
        ),
        RouteSpec(
            "GET",
            "/.well-known/jwks.json",
            auth.jwks,
            PUBLIC,
            "A tenant's token verification keys",
            "auth",
            query=auth.JwksQuery,
            response=auth.Jwks,
        ),
        RouteSpec(
            "POST",
            "/admin/users",
            users.create_user,
            Role.ADMIN,
            "Create a user",
            "users",
            body=users.CreateUser,
            response=users.UserOut,
            status=201,
        ),
        RouteSpec(
            "GET",
            "/admin/users",
            users.list_users,
            Role.ADMIN,
            "List users",
            "users",
            query=users.ListQuery,
            response=users.UserPage,
        ),
        RouteSpec(
            "POST",
            "/admin/users/{user_id}/disable",
            users.disable_user,
            Role.ADMIN,
            "Disable a user",
            "users",
            response=users.UserOut,
        ),
        RouteSpec(
            "POST",
            "/vector/insert",
            data.vector_insert,
            Role.MEMBER,
            "Upsert a batch of points (vectors, or texts the index's model embeds)",
            "vectors",
            body=models.InsertRequest,
            response=models.InsertResponse,
        ),
        RouteSpec(
            "POST",
            "/vector/search",
            data.vector_search,
            Role.VIEWER,
            "Search an index with a vector or a text",
            "vectors",
            body=models.SearchRequest,
            response=models.SearchResponse,
        ),
        RouteSpec(
            "POST",
            "/vector/delete",
            data.vector_delete,
            Role.MEMBER,
            "Delete points by id or by filter",
            "vectors",
            body=models.DeleteRequest,
            response=models.DeleteResponse,
        ),
        RouteSpec(
            "POST",
            "/vector/fetch",
            data.vector_fetch,
            Role.VIEWER,
            "Fetch points by id",
            "vectors",
            body=models.FetchRequest,
            response=models.FetchResponse,
        ),
        RouteSpec(
            "POST",
            "/vector/ingest",
            ingest.ingest,
            Role.MEMBER,
            "Split, embed and upsert documents into a text-embedded index (jobs of the worker pool)",
            "vectors",
            body=ingestion.IngestRequest,
            response=ingest_service.IngestionOut,
            status=202,
            headers=(("Location", "Path of the ingestion: /vector/ingest/{ingestion_id}"),),
        ),
        RouteSpec(
            "GET",
            "/vector/ingest/{ingestion_id}",
            ingest.get_ingestion,
            Role.VIEWER,
            "An ingestion's progress (chunks_done of chunks_total)",
            "vectors",
            response=ingest_service.IngestionOut,
            path_patterns=(("ingestion_id", ingest.INGESTION_ID_PATTERN),),
        ),
        RouteSpec(
            "GET",
            "/vector/indexes",
            data.vector_indexes,
            Role.VIEWER,
            "The tenant's vector indexes",
            "vectors",
            response=models.IndexList,
        ),
        RouteSpec(
            "POST",
            "/engine/predict",
            data.engine_predict,
            Role.MEMBER,
            "Run a predict-type engine",
            "engines",
            body=data.EngineRequest,
            response=data.EngineResponse,
        ),
        RouteSpec(
            "POST",
            "/engine/analyze",
            data.engine_analyze,
            Role.MEMBER,
            "Run an analytics engine",
            "engines",
            body=data.EngineRequest,
            response=data.EngineResponse,
        ),
        RouteSpec(
            "POST",
            "/engine/route",
            data.engine_route,
            Role.MEMBER,
            "Route a text with a router engine",
            "engines",
            body=data.EngineRequest,
            response=data.EngineResponse,
        ),
        RouteSpec(
            "POST",
            "/engine/run",
            jobs.engine_run,
            Role.MEMBER,
            "Run an engine in the background (a job of the engine's worker pool)",
            "jobs",
            body=jobs.RunRequest,
            response=jobs.RunResponse,
            status=202,
            headers=(("Location", "Path of the job: /jobs/{job_id}"),),
        ),
        RouteSpec(
            "GET",
            "/jobs/{job_id}",
            jobs.get_job,
            Role.VIEWER,
            "A job's status, result or error",
            "jobs",
            response=jobs.JobOut,
            path_patterns=(("job_id", jobs.JOB_ID_PATTERN),),
        ),
        *inference_routes(),
        *llm_routes(),
    ]


def llm_routes() -> list[RouteSpec]:
    """The OpenAI-compatible LLM gateway and its usage meter."""
    return [
        RouteSpec(
            "POST",
            "/v1/chat/completions",
            llm.chat_completions,
            Role.MEMBER,
            "OpenAI-compatible chat completion with an LLM Engine (model = Engine name); SSE when stream",
            "llm",
            body=llm.ChatCompletionBody,
            response_type="application/json",
            openai_errors=True,
            own_timeout=True,
        ),
        RouteSpec(
            "GET",
            "/usage",
            llm.usage,
            Role.VIEWER,
            "LLM token usage per Engine and UTC day",
            "llm",
            query=llm.UsageQuery,
            response=llm.UsageReport,
        ),
    ]


def inference_routes() -> list[RouteSpec]:
    """The Open Inference Protocol v2 routes (model name = the Engine's name, in the caller's tenant)."""

    def oip(
        method: str, path: str, handler: Handler, access: Role | Literal["public"], summary: str
    ) -> RouteSpec:
        versioned = "_version" if "{version}" in path else ""
        name = f"oip_{handler.__name__}{versioned}"
        return RouteSpec(method, path, handler, access, summary, "inference", name=name, documented=False)

    routes = [
        oip("GET", "/v2", inference.server_metadata, PUBLIC, "Server metadata"),
        oip("GET", "/v2/health/live", inference.live, PUBLIC, "Server liveness"),
        oip("GET", "/v2/health/ready", inference.ready, PUBLIC, "Server readiness"),
    ]
    # Each model route also under /versions/{version}: the model's only version is its sha256.
    for model in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        routes += [
            oip("GET", model, inference.model_metadata, Role.VIEWER, "Model metadata"),
            oip("GET", f"{model}/ready", inference.model_ready, Role.VIEWER, "Model readiness"),
            oip("POST", f"{model}/infer", inference.infer, Role.MEMBER, "Inference"),
        ]
    return routes
