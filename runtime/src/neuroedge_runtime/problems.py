"""RFC 9457 problem details: the only shape an error response of the runtime ever has.

Handlers raise `Problem`s; the request path renders them (and anything unexpected, as a generic 500 that
never carries a stack trace). Each kind has a stable `type` URI clients can branch on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

TYPE_BASE = "https://neuroedge.io/problems/"
CONTENT_TYPE = "application/problem+json"

# The slugs the request path also gives aiohttp's own HTTP errors (`requestpath._HTTP_SLUGS`): one spelling.
MALFORMED_REQUEST = "malformed-request"
NOT_FOUND = "not-found"
METHOD_NOT_ALLOWED = "method-not-allowed"
PAYLOAD_TOO_LARGE = "payload-too-large"


class Problem(Exception):  # noqa: N818 - RFC 9457 calls it a problem
    """An error to answer with `application/problem+json`."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The JSON document of the problem."""
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            doc["instance"] = instance
        doc.update(self.extra)
        return doc


def bad_request(detail: str) -> Problem:
    """The body is not valid JSON (or not JSON at all)."""
    return Problem(400, MALFORMED_REQUEST, "Malformed request", detail)


def invalid(detail: str, errors: list[dict[str, Any]] | None = None) -> Problem:
    """The body or query is well-formed but does not satisfy the schema."""
    return Problem(422, "invalid-request", "Invalid request", detail, extra={"errors": errors or []})


def unauthorized(detail: str = "missing or invalid credentials") -> Problem:
    """Authentication failed; the detail never says whether a tenant or user exists."""
    return Problem(401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def forbidden(detail: str) -> Problem:
    """Authenticated, but the role does not allow this route."""
    return Problem(403, "forbidden", "Forbidden", detail)


def not_found(detail: str) -> Problem:
    """The addressed object does not exist for this tenant."""
    return Problem(404, NOT_FOUND, "Not found", detail)


def conflict(detail: str) -> Problem:
    """The request conflicts with the current state (e.g. a duplicate email)."""
    return Problem(409, "conflict", "Conflict", detail)


def no_route() -> Problem:
    """No route matches the path: the body aiohttp's `HTTPNotFound` became, without building that response
    first."""
    return Problem(404, NOT_FOUND, "Not Found", "Not Found")


def method_not_allowed(allowed: Iterable[str]) -> Problem:
    """Routes match the path but not the method; `Allow` lists theirs, as aiohttp's `HTTPMethodNotAllowed`
    does."""
    return Problem(
        405,
        METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "Method Not Allowed",
        headers={"Allow": ",".join(sorted(allowed))},
    )


def payload_too_large(detail: str) -> Problem:
    """What the request asks to store or queue is larger than its limit."""
    return Problem(413, PAYLOAD_TOO_LARGE, "Payload too large", detail)


def unavailable(detail: str) -> Problem:
    """A dependency needed for this request is not available."""
    return Problem(503, "unavailable", "Service unavailable", detail)


def internal() -> Problem:
    """Anything unexpected: the detail is generic on purpose (the log has the traceback and request id)."""
    return Problem(500, "internal", "Internal error", "an unexpected error occurred; see the request id")
