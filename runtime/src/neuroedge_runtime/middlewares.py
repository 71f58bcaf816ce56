"""The request path, as one middleware: observe (request id, metrics, access log, and the request's span
when tracing is on), then errors (problem+json, timeout), then admission (bearer token, role, rate limit),
then the handler.

One middleware, not three: aiohttp calls each middleware as a coroutine layer of its own per request, and
on a request that does little (a probe, a cached prediction) the layers were a measurable share of its
time. The three steps stay separate functions here, called in that order.

Probe routes (`RouteSpec.probe`: /health, /ready, /metrics, called every few seconds by the kubelet and
Prometheus) are public, bound their own time and are counted in the request metrics like any request, but a
successful probe writes no access log line (a failing one does)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from typing import Protocol

import asyncpg
import redis.exceptions
from aiohttp import web
from aiohttp.typedefs import Middleware
from opentelemetry import trace

from neuroedge_runtime import keys, logs, problems, ratelimit, routing
from neuroedge_runtime.auth import roles
from neuroedge_runtime.routing import Handler
from neuroedge_runtime.serving import openai_errors

log = logging.getLogger("neuroedge_runtime.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUEST_ID_HEADER = "X-Request-ID"
_HTTP_SLUGS = {
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    400: "malformed-request",
}
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    redis.exceptions.ConnectionError,
    asyncpg.TooManyConnectionsError,
)


def _new_request_id() -> str:
    """32 random hex digits, as a UUID4's hex, from the process's PRNG: an id only has to be unique in logs,
    not unguessable, and os.urandom (uuid4) is a system call per request."""
    return f"{random.getrandbits(128):032x}"


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


SpanScope = tuple[trace.Span, object]
"""A request's span and the token that made it current (for `RequestSpans.end`)."""


class RequestSpans(Protocol):
    """The SERVER span of each request (`tracing.RequestSpans`, when tracing is on)."""

    def begin(self, request: web.Request) -> SpanScope:
        """Start the request's span and make it current."""

    def end(self, scope: SpanScope, request: web.Request, status: int, error: Exception | None) -> None:
        """Make it no longer current; a recorded span gets its attributes and ends."""


def handle(spans: RequestSpans | None = None) -> Middleware:
    """The request path's one middleware; with `spans` (tracing on) the request's span encloses all of it,
    so that the access log line and every child run inside it.

    The span is begun and ended here rather than by a tracing middleware outside this one: with the extra
    layer, tracing on at 0% sampling cost /engine/predict 5% of its throughput in bench_tracing, folded in
    3-4%, while the unsampled span's own work is about 4 us of a request's 300. With tracing off `spans` is
    None and the request path has no tracing step."""

    @web.middleware
    async def handle(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Give the request an id (the caller's, if well-formed), answer it (`_answer`), then count it, time
        it and log it."""
        incoming = request.headers.get(REQUEST_ID_HEADER)
        rid = incoming if incoming is not None and _REQUEST_ID.match(incoming) else _new_request_id()
        request[keys.REQUEST_ID] = rid
        spec = request.app[keys.ROUTES].get(request.match_info.route)
        request[keys.ROUTE] = spec
        reset = logs.request_id.set(rid)
        metrics = request.app[keys.METRICS]
        metrics.in_flight.inc()
        started = time.perf_counter()
        status = 499  # the client went away before an answer
        error: Exception | None = None
        scope = spans.begin(request) if spans is not None else None  # ended in `finally`, after the log line
        try:
            response = await _answer(request, handler, spec)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = rid
            return response
        except web.HTTPException as exc:  # a redirect (`_answer` renders the others)
            status = exc.status
            raise
        except Exception as exc:
            error, status = exc, 500
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(request)
            metrics.in_flight.dec()
            metrics.request_done(request.method, route, status, elapsed)
            principal = request.get(keys.PRINCIPAL)
            if principal is not None:
                metrics.tenant_request_done(principal.tenant, route, status, elapsed)
            if spec is None or not spec.probe or status >= 400:
                _access_log(request, route, status, elapsed)
            logs.request_id.reset(reset)
            if spans is not None and scope is not None:
                spans.end(scope, request, status, error)

    return handle


def _access_log(request: web.Request, route: str, status: int, elapsed: float) -> None:
    logs.emit(
        log,
        "%s %s %s",
        (request.method, request.path, status),
        {
            "method": request.method,
            "path": request.path,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
        },
    )


def render(problem: problems.Problem, request: web.Request) -> web.Response:
    """The problem+json response of a problem; on Open Inference Protocol routes (/v2) the protocol's own
    error body `{"error": "..."}`, which its clients (tritonclient, KServe's) read; on the OpenAI-compatible
    routes (under /v1/, or marked `openai_errors`) OpenAI's error shape, for OpenAI clients."""
    if request.path == "/v2" or request.path.startswith("/v2/"):
        return web.json_response({"error": problem.detail}, status=problem.status, headers=problem.headers)
    spec = request.get(keys.ROUTE)
    if request.path.startswith(openai_errors.PREFIX) or (spec is not None and spec.openai_errors):
        return openai_errors.from_problem(problem)
    return web.Response(
        status=problem.status,
        body=json.dumps(problem.body(instance=request.path)),
        content_type=problems.CONTENT_TYPE,
        headers=problem.headers,
    )


def _from_http(exc: web.HTTPException) -> problems.Problem:
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    detail = exc.text if exc.text and exc.text != f"{exc.status}: {exc.reason}" else exc.reason
    return problems.Problem(
        exc.status,
        _HTTP_SLUGS.get(exc.status, f"http-{exc.status}"),
        exc.reason,
        detail or "",
        headers=headers,
    )


async def _answer(
    request: web.Request, handler: Handler, spec: routing.RouteSpec | None
) -> web.StreamResponse:
    """Turn every failure into problem+json (never a stack trace), and bound the handler's time (probes and
    routes with `own_timeout` bound their own)."""
    timeout = request.app[keys.SETTINGS].request_timeout_seconds
    try:
        if spec is not None and spec.probe:
            return await handler(request)
        async with asyncio.timeout(None if spec is not None and spec.own_timeout else timeout):
            if spec is None or not isinstance(spec.access, roles.Role):  # public
                return await handler(request)
            decision = await _admit(request, spec.access)
            response = await handler(request)
            response.headers.update(decision.headers())
            return response
    except problems.Problem as problem:
        return render(problem, request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return render(_from_http(exc), request)
    except TimeoutError:
        return render(
            problems.Problem(504, "timeout", "Timeout", f"the request took longer than {timeout}s"), request
        )
    except _UNAVAILABLE as exc:
        log.warning("dependency unavailable: %s", type(exc).__name__)
        return render(problems.unavailable("a dependency is not reachable; retry later"), request)
    except Exception as exc:
        log.exception("unhandled error")
        trace.get_current_span().record_exception(exc)  # a no-op unless this request's span is recorded
        return render(problems.internal(), request)


async def _admit(request: web.Request, access: roles.Role) -> ratelimit.Decision:
    """For a non-public route: verify the bearer token, check the route's role, apply the rate limits (and
    the revocation check, in the same Redis call); the decision's headers go on the response."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise problems.unauthorized("a bearer access token is required")
    principal = await request.app[keys.AUTH].authenticate(token.strip())
    if not roles.allows(principal.role, access):
        raise problems.forbidden(f"this route needs the {access.value} role")
    try:
        decision = await request.app[keys.LIMITER].check(
            principal.info, principal.user_id, principal.issued_at
        )
    except ratelimit.RevokedError:
        raise problems.unauthorized("invalid access token") from None
    if not decision.allowed:
        request.app[keys.METRICS].rate_limited.labels(decision.scope).inc()
        request.app[keys.METRICS].tenant_rate_limited.labels(principal.tenant, decision.scope).inc()
        raise problems.Problem(
            429,
            "rate-limited",
            "Too many requests",
            f"the {decision.scope} rate limit is exhausted",
            headers=decision.headers(),
        )
    request[keys.PRINCIPAL] = principal
    return decision
