"""Vector and engine endpoints: parse, call the service for the caller's tenant, render."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from neuroedge_runtime import bodies, keys
from neuroedge_runtime.engines.base import Operation
from neuroedge_runtime.vectors import models

ENGINE_NAME = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
"""An Engine's name (a DNS label, as the registry table checks)."""


class EngineRequest(BaseModel):
    """Run the named Engine of the caller's tenant on `input`."""

    model_config = ConfigDict(extra="forbid")
    engine: Annotated[str, StringConstraints(pattern=ENGINE_NAME)]
    input: dict[str, JsonValue] = Field(default_factory=dict)


class EngineResponse(BaseModel):
    """The engine's result."""

    engine: str
    result: dict[str, Any]


async def vector_insert(request: web.Request) -> web.Response:
    """Batch upsert of points into one of the tenant's indexes."""
    body = await bodies.parse_json(request, models.InsertRequest)
    result = await request.app[keys.VECTORS].insert(request[keys.PRINCIPAL].tenant, body)
    return bodies.json_response(result)


async def vector_search(request: web.Request) -> web.Response:
    """Nearest neighbours in one of the tenant's indexes."""
    body = await bodies.parse_json(request, models.SearchRequest)
    result = await request.app[keys.VECTORS].search(request[keys.PRINCIPAL].tenant, body)
    return bodies.json_response(result)


async def vector_delete(request: web.Request) -> web.Response:
    """Delete points of one of the tenant's indexes by id or by filter."""
    body = await bodies.parse_json(request, models.DeleteRequest)
    result = await request.app[keys.VECTORS].delete(request[keys.PRINCIPAL].tenant, body)
    return bodies.json_response(result)


async def vector_fetch(request: web.Request) -> web.Response:
    """Points of one of the tenant's indexes by id."""
    body = await bodies.parse_json(request, models.FetchRequest)
    result = await request.app[keys.VECTORS].fetch(request[keys.PRINCIPAL].tenant, body)
    return bodies.json_response(result)


async def vector_indexes(request: web.Request) -> web.Response:
    """The tenant's indexes: name, backend, dimension, distance, points, embedding model."""
    result = await request.app[keys.VECTORS].list_indexes(request[keys.PRINCIPAL].tenant)
    return bodies.json_response(result)


async def _engine(request: web.Request, operation: Operation) -> web.Response:
    body = await bodies.parse_json(request, EngineRequest)
    result = await request.app[keys.ENGINES].run(
        request[keys.PRINCIPAL].tenant, body.engine, operation, body.input
    )
    # `EngineResponse`'s bytes, without its serializer's cost (`bodies.json_document`).
    return bodies.json_document({"engine": body.engine, "result": result})


async def engine_predict(request: web.Request) -> web.Response:
    """Synchronous prediction (predictive, agent and conversation engines)."""
    return await _engine(request, Operation.PREDICT)


async def engine_analyze(request: web.Request) -> web.Response:
    """Synchronous analysis (analytics engines)."""
    return await _engine(request, Operation.ANALYZE)


async def engine_route(request: web.Request) -> web.Response:
    """Semantic routing (router engines): the chosen route, its engine and every route's score."""
    return await _engine(request, Operation.ROUTE)
