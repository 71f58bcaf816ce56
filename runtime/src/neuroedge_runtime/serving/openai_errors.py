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
