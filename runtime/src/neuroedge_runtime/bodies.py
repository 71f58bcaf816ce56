"""Request bodies and queries, parsed into pydantic models with precise 400/415/422 problems."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
import pydantic
import pydantic_core
from aiohttp import web
from multidict import MultiMapping

from neuroedge_runtime import problems

M = TypeVar("M", bound=pydantic.BaseModel)
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


def _errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors(include_url=False)
    ]


async def parse_json(request: web.Request, model: type[M]) -> M:
    """The request's JSON body as `model`."""
    if request.content_type != "application/json":
        raise problems.Problem(
            415, "unsupported-media-type", "Unsupported media type", "the body must be application/json"
        )
    raw = await request.read()
    data = _loads(raw)
    if not isinstance(data, dict):
        raise problems.invalid("the body must be a JSON object", [{"loc": [], "msg": "expected an object"}])
    # JSON has no raw control characters in strings: a NUL can only be the escape \\u0000 (a cheap bytes
    # test that spares the walk of every request without it).
    if b"\\u0000" in raw and _has_nul(data):
        # PostgreSQL text and jsonb cannot hold U+0000: refuse it here rather than fail in the database.
        raise problems.invalid("strings must not contain the NUL character (U+0000)")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise problems.invalid(f"the body does not match {model.__name__}", _errors(exc)) from None


def _loads(raw: bytes) -> Any:
    """The JSON document `raw`: parsed by orjson (several times faster), and by the standard library when
    orjson refuses it (which then names the fault precisely) or when it holds a run of 19 digits or more (an
    integer beyond 64 bits, which orjson would turn into an inexact float): what is accepted, its values and
    every error message stay the standard library's."""
    if _LONG_DIGITS.search(raw) is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise problems.bad_request("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise problems.bad_request(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise problems.bad_request(f"malformed JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def parse_query(query: MultiMapping[str], model: type[M]) -> M:
    """The query string as `model`. A parameter given more than once is refused rather than silently
    reduced to one of its values (none of our parameters is a list)."""
    repeated = sorted({key for key in query if len(query.getall(key)) > 1})
    if repeated:
        errors = [{"loc": ["query", key], "msg": "given more than once"} for key in repeated]
        raise problems.invalid(f"query parameter {', '.join(repeated)} given more than once", errors)
    try:
        return model.model_validate(dict(query))
    except pydantic.ValidationError as exc:
        raise problems.invalid("invalid query parameters", _errors(exc)) from None


def json_response(
    model: pydantic.BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response of a model."""
    return web.Response(
        body=model.model_dump_json(by_alias=True),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def json_document(document: Mapping[str, Any], status: int = 200) -> web.Response:
    """A JSON response of a plain document (an engine's result under its name): the bytes `json_response`
    writes for a model holding it (`dict[str, Any]` fields; a unit test compares them value kind by value
    kind), written by orjson, where pydantic's serializer, inferring the type of every `Any` value, cost
    about 5 us of each /engine/predict. What orjson does not write itself (datetimes, decimals, sets,
    bytes) is converted as pydantic converts it; a document orjson refuses (an integer beyond 64 bits) is
    written by pydantic."""
    try:
        body = orjson.dumps(
            document, default=pydantic_core.to_jsonable_python, option=orjson.OPT_PASSTHROUGH_DATETIME
        )
    except orjson.JSONEncodeError:
        body = pydantic_core.to_json(document, inf_nan_mode="null")
    return web.Response(body=body, status=status, content_type="application/json")
