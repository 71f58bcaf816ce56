"""The API's route table: the single list the router, the auth middleware and the OpenAPI document use."""

from __future__ import annotations

from typing import Literal

from neuroedge_runtime.auth.roles import Role
from neuroedge_runtime.routing import PUBLIC, Handler, RouteSpec
from neuroedge_runtime.vectors import models
from neuroedge_runtime.views import auth, data, inference, jobs, ops, users


def table() -> list[RouteSpec]:
    """Every route of the runtime API."""
    return [
        RouteSpec("GET", "/health", ops.health, PUBLIC, "Liveness", "operations", response=ops.Health),
        RouteSpec(
            "GET",
            "/ready",
            ops.ready,
            PUBLIC,
            "Readiness: database and Redis reachable",
            "operations",
            response=ops.Health,
        ),
        RouteSpec(
            "GET",
            "/metrics",
            ops.metrics,
            PUBLIC,
            "Prometheus metrics",
            "operations",
            response_type="text/plain",
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
            "Upsert a batch of vectors",
            "vectors",
            body=models.InsertRequest,
            response=models.InsertResponse,
        ),
        RouteSpec(
            "POST",
            "/vector/search",
            data.vector_search,
            Role.VIEWER,
            "Search an index",
            "vectors",
            body=models.SearchRequest,
            response=models.SearchResponse,
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
