"""The OpenAPI 3.1 document, built from the route table and the pydantic models (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import models_json_schema

from neuroedge_runtime import problems
from neuroedge_runtime.routing import PUBLIC, RouteSpec
from neuroedge_runtime.serving import openai_errors

REF = "#/components/schemas/{model}"
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
_PARAM = re.compile(r"{(\w+)}")


def _path_parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    patterns = dict(spec.path_patterns)
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": patterns[name]}
            if name in patterns
            else {"type": "string", "format": "uuid"},
        }
        for name in _PARAM.findall(spec.path)
    ]


def _query_parameters(spec: RouteSpec) -> list[dict[str, Any]]:
    if spec.query is None:
        return []
    schema = spec.query.model_json_schema()
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(spec: RouteSpec, schemas: Mapping[tuple[Any, Any], Any]) -> dict[str, Any]:
    problem = {
        "description": "A problem (RFC 9457)",
        "content": {problems.CONTENT_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}},
    }
    if spec.openai_errors or spec.path.startswith(openai_errors.PREFIX):
        problem = {
            "description": "An error in OpenAI's shape",
            "content": {"application/json": {"schema": {"$ref": REF.format(model="OpenAIError")}}},
        }
    success: dict[str, Any] = {"description": spec.summary}
    if spec.response is not None:
        success["content"] = {spec.response_type: {"schema": schemas[(spec.response, "serialization")]}}
    elif spec.status != 204:
        success["content"] = {spec.response_type: {"schema": {}}}
    if spec.headers:
        success["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in spec.headers
        }
    op: dict[str, Any] = {
        "operationId": spec.handler.__name__,
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": _path_parameters(spec) + _query_parameters(spec),
        "responses": {str(spec.status): success, "default": problem},
    }
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[(spec.body, "validation")]}},
        }
    if spec.access != PUBLIC:
        op["security"] = [{"bearer": []}]
        op["x-required-role"] = spec.access.value
        op["description"] = f"Needs the `{spec.access.value}` role (or a higher one)."
    return op


def document(specs: list[RouteSpec], version: str) -> dict[str, Any]:
    """The OpenAPI document of `specs` (the documented ones)."""
    specs = [s for s in specs if s.documented]
    models = sorted(
        {(s.body, "validation") for s in specs if s.body}
        | {(s.response, "serialization") for s in specs if s.response},
        key=lambda pair: (pair[0].__name__, pair[1]),
    )
    schemas, defs = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "NeuroEdge runtime API", "version": version},
        "paths": paths,
        "components": {
            "schemas": {
                **defs.get("$defs", {}),
                "Problem": PROBLEM_SCHEMA,
                "OpenAIError": openai_errors.ERROR_SCHEMA,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
