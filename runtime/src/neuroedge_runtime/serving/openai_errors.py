"""OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, for the OpenAI-compatible routes.

OpenAI clients read this shape (not problem+json) to raise their typed exceptions, so every failure under
`/v1/` is rendered with it: the handlers' own errors (`OpenAIError`, which carries `param` and `code`) and
every other problem (authentication, rate limits, body validation) converted by `from_problem`. OpenAI's
protocol has no 422: a body that does not validate is a 400 `invalid_request_error` naming the parameter.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from neuroedge_runtime import problems

PREFIX = "/v1/"
"""Routes under this path answer errors in OpenAI's shape."""

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
}
_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


class OpenAIError(problems.Problem):
    """An error of an OpenAI-compatible handler, with the parameter at fault and a machine-readable code."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(status, type_.replace("_", "-"), type_, message)
        self.type_ = type_
        self.param = param
        self.code = code


def error_response(
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
    *,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The OpenAI error response (with `headers`, such as a 429's Retry-After)."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> bytes:
    """The JSON body of one error (also written as an SSE event when a stream fails midway)."""
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
"""OpenAI's error object, for the OpenAPI document."""


def _param(errors: list[dict[str, Any]]) -> str | None:
    if not errors:
        return None
    loc = [str(part) for part in errors[0].get("loc", [])]
    return ".".join(loc) or None


def _message(problem: problems.Problem, errors: list[dict[str, Any]]) -> str:
    if not errors:
        return problem.detail
    message = str(errors[0].get("msg", problem.detail)).removeprefix("Value error, ")
    where = _param(errors)
    return f"{message} ({where})" if where else message


def from_problem(problem: problems.Problem) -> web.Response:
    """The OpenAI rendering of any problem raised while serving an OpenAI-compatible route."""
    headers = dict(problem.headers) or None
    if isinstance(problem, OpenAIError):
        return error_response(
            problem.status, problem.detail, problem.type_, problem.param, problem.code, headers=headers
        )
    errors: list[dict[str, Any]] = list(problem.extra.get("errors") or [])
    status = 400 if problem.status == 422 else problem.status
    type_ = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    code = _CODES.get(status, problem.slug)
    return error_response(status, _message(problem, errors), type_, _param(errors), code, headers=headers)
