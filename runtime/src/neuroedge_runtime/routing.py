"""Route declarations: every route states its access (a role, or public) and its models, in one table that
both the router and the OpenAPI document are built from, so the document cannot drift from the real routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import pydantic
from aiohttp import web

from neuroedge_runtime.auth.roles import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC: Literal["public"] = "public"


@dataclass(frozen=True)
class RouteSpec:
    """One route: method, path, handler, the least role it needs, and what it reads and returns."""

    method: str
    path: str
    handler: Handler
    access: Role | Literal["public"]
    summary: str
    tag: str
    body: type[pydantic.BaseModel] | None = None
    query: type[pydantic.BaseModel] | None = None
    response: type[pydantic.BaseModel] | None = None
    status: int = 200
    response_type: str = "application/json"
    path_patterns: tuple[tuple[str, str], ...] = ()
    """(parameter, regular expression) of path parameters that are not UUIDs (the OpenAPI default)."""
    headers: tuple[tuple[str, str], ...] = ()
    """(header, description) of headers the success response carries."""
    name: str = ""
    """The route's name in the router (unique); empty: the handler's name."""
    documented: bool = True
    """False for routes of a protocol with its own specification (the Open Inference Protocol v2 under /v2):
    they are left out of the OpenAPI document and answer errors in that protocol's shape."""
    openai_errors: bool = False
    """Errors (the request path's too: 401, 403, 429, 5xx) are answered in OpenAI's shape, not problem+json:
    the OpenAI-compatible `/v1` routes, whose clients parse `{"error": {...}}`."""
    own_timeout: bool = False
    """The handler bounds its own time (the LLM gateway: the Engine's `timeoutSeconds`, per chunk for
    streams), so the API-wide request timeout does not cut it."""
    probe: bool = False
    """Called every few seconds by the kubelet or Prometheus (/health, /ready, /metrics): public, bounding
    its own time, counted in the request metrics, and access-logged only when it fails."""


Wrap = Callable[[RouteSpec, str], Handler]
"""What the router calls for a route: built from its spec and its path template (`requestpath.Steps.wrap`)."""


def install(app: web.Application, specs: list[RouteSpec], wrap: Wrap) -> dict[web.AbstractRoute, RouteSpec]:
    """Add the routes to the app's router, each handler wrapped by `wrap`; returns the spec of each route."""
    table: dict[web.AbstractRoute, RouteSpec] = {}
    for spec in specs:
        if spec.access != PUBLIC and not isinstance(spec.access, Role):
            raise ValueError(f"{spec.method} {spec.path} declares no access")
        if spec.probe and spec.access != PUBLIC:
            raise ValueError(f"{spec.method} {spec.path}: a probe is public")
        resource = app.router.add_resource(spec.path, name=spec.name or spec.handler.__name__)
        table[resource.add_route(spec.method, wrap(spec, resource.canonical))] = spec
    return table
