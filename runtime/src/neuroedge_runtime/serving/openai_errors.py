"""OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`, which OpenAI clients parse.

The native API answers problem+json; the OpenAI-compatible routes answer this instead, so that an `openai`
client raises its typed exception (NotFoundError, RateLimitError, ...) with our message.
"""

from __future__ import annotations

import json

from aiohttp import web


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> bytes:
    """The JSON body of one error."""
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()


OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}
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


def from_problem(status: int, slug: str, detail: str) -> web.Response:
    """A problem of the shared middlewares (auth, rate limit, timeout) in OpenAI's shape."""
    type_ = OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return error_response(status, detail, type_, code=slug)


def error_response(
    status: int,
    message: str,
    type_: str,
    param: str | None = None,
    code: str | None = None,
) -> web.Response:
    """An error answered in OpenAI's shape with HTTP `status` (headers such as Retry-After are set on the
    returned response by the caller)."""
    return web.Response(
        status=status, body=error_body(message, type_, param, code), content_type="application/json"
    )
