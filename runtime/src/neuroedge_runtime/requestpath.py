"""The request path: every route's handler is wrapped, once, when the routes are installed, in the steps
a request takes: observe (request id, metrics, access log, and the request's span when tracing is on), then
errors (problem+json, timeout), then admission (bearer token, role, rate limit), then the handler.

Wrapped per route, not by an aiohttp middleware: aiohttp runs a middleware chain as coroutine layers of its
own per request (a cached chain lookup, its `_fix_request_current_app` layer, then ours), and everything a
route's steps need (its spec, its metrics label, whether it is a probe, whether it needs a token, its
timeout) is known when the route is installed, not looked up per request. On /health, the lightest request,
that was about a sixth of the server's CPU per request (bench_runtime's `health_rps` vs `hello_rps`).

Requests that match no route (404) or no method of their path (405) reach one catch-all route installed
last (`install_unmatched`), which takes the same steps and answers problem+json as before.

Probe routes (`RouteSpec.probe`: /health, /ready, /metrics, called every few seconds by the kubelet and
Prometheus) are public, bound their own time and are counted in the request metrics like any request, but a
successful probe writes no access log line (a failing one does)."""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
import redis.exceptions
from aiohttp import web
from opentelemetry import trace

from neuroedge_queue import currentspan
from neuroedge_runtime import deadlines, keys, logs, problems, ratelimit, routing
from neuroedge_runtime import metrics as metrics_module
from neuroedge_runtime.auth import roles
from neuroedge_runtime.routing import Handler
from neuroedge_runtime.serving import openai_errors

log = logging.getLogger("neuroedge_runtime.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
REQUEST_ID_HEADER = "X-Request-ID"
_HTTP_SLUGS = {
    404: problems.NOT_FOUND,
    405: problems.METHOD_NOT_ALLOWED,
    413: problems.PAYLOAD_TOO_LARGE,
    400: problems.MALFORMED_REQUEST,
}
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    redis.exceptions.ConnectionError,
    asyncpg.TooManyConnectionsError,
)


UNMATCHED = "unmatched"
"""The name of the catch-all route, and the route label (metrics, spans) of the requests it answers."""


SpanScope = tuple[trace.Span, object]
"""A request's span and the token that made it current (for `RequestSpans.end`)."""


class RequestSpans(Protocol):
    """The SERVER span of each request (`tracing.RequestSpans`, when tracing is on)."""

    def begin(self, request: web.Request, label: str, request_id: str) -> SpanScope:
        """Start the request's span and make it current; `label` is the route's path template
        (`/engines/{name}`, known when the route was wrapped), or "unmatched"."""

    def end(self, scope: SpanScope, request: web.Request, status: int, error: Exception | None) -> None:
        """Make it no longer current; a recorded span gets its outcome (status, tenant) and ends."""


@dataclass(frozen=True)
class Steps:
    """What every route's steps share: the app's metrics, the API-wide request timeout, the requests'
    spans (None: tracing is off, and the request path has no tracing step) and the timers that bound them."""

    metrics: metrics_module.Metrics
    timeout_seconds: float
    spans: RequestSpans | None = None
    bounds: deadlines.Deadlines = field(default_factory=deadlines.Deadlines)

    def wrap(self, spec: routing.RouteSpec, label: str) -> Handler:
        """The handler the router calls for `spec`'s route, whose path template is `label`."""
        run = spec.handler
        if isinstance(spec.access, roles.Role):
            run = _admitted(run, spec.access)
        timeout = None if spec.probe or spec.own_timeout else self.timeout_seconds
        return _observed(self, spec, label, run, timeout)


def install_unmatched(app: web.Application, steps: Steps) -> None:
    """The catch-all route, installed after every other: the router tries it last, for a path no route
    matches (404) or whose routes take other methods (405, with the `Allow` header). The routes' resources
    are grouped by first path segment on its first request (the router is frozen by then), so that telling
    404 from 405 asks only the resources that could match the path, not all of them."""
    groups: dict[str, tuple[web.AbstractResource, ...]] = {}

    async def unmatched(request: web.Request) -> web.StreamResponse:
        if not groups:
            groups.update(by_first_segment(app.router.resources()))
        return await _unmatched(request, groups)

    # No timeout: nothing here waits on I/O (`resource.resolve` only matches the path).
    app.router.add_route(
        "*", "/{tail:.*}", _observed(steps, None, UNMATCHED, unmatched, None), name=UNMATCHED
    )


ANY_SEGMENT = "{"
"""The group of resources whose first path segment is (or holds) a variable: candidates for every path."""


def first_segment(path: str) -> str:
    """The first segment of a path or path template ("" for "/"): `/engines/{name}` -> "engines"."""
    return path[1:].partition("/")[0]


def by_first_segment(
    resources: Iterable[web.AbstractResource],
) -> dict[str, tuple[web.AbstractResource, ...]]:
    """The resources (the catch-all left out) by the literal first segment of their path template; those
    whose first segment has a variable under `ANY_SEGMENT`. A path can only match resources of its own first
    segment's group and of that one."""
    groups: dict[str, list[web.AbstractResource]] = {}
    for resource in resources:
        if resource.name == UNMATCHED:
            continue
        head = first_segment(resource.canonical)
        groups.setdefault(ANY_SEGMENT if ANY_SEGMENT in head else head, []).append(resource)
    return {head: tuple(members) for head, members in groups.items()}


async def _unmatched(
    request: web.Request, groups: Mapping[str, tuple[web.AbstractResource, ...]]
) -> web.StreamResponse:
    """404, or 405 with the methods the path's routes take: aiohttp's router found none, and this route is
    reached only then. Only the resources that could match the path are asked (aiohttp matches on
    `path_safe`, and so does the grouping)."""
    path = request.rel_url.path_safe
    allowed: set[str] = set()
    for resource in (*groups.get(first_segment(path), ()), *groups.get(ANY_SEGMENT, ())):
        allowed |= (await resource.resolve(request))[1]
    if allowed:
        raise problems.method_not_allowed(allowed)
    raise problems.no_route()


_getrandbits = random.getrandbits  # a log correlation id, not a secret


def _new_request_id() -> str:
    """32 random hex digits, as a UUID4's hex, from the process's PRNG: an id only has to be unique in logs,
    not unguessable, and os.urandom (uuid4) is a system call per request. Formatted from bytes: formatting
    a 128-bit integer as hex (`f"{getrandbits(128):032x}"`) cost about 3 us of server CPU per request under
    load, a tenth of a probe's."""
    return _getrandbits(128).to_bytes(16, "little").hex()  # `random.randbytes`, without its Python frame


def _observed(
    steps: Steps, spec: routing.RouteSpec | None, label: str, run: Handler, bound: float | None
) -> Handler:
    """`run` inside the observing steps: the request id (the caller's, if well-formed), the request's span,
    every failure answered (`_failure`), the request metrics and the access log line. With tracing on the
    span encloses all of it, so that the access log line and every child run inside it."""
    metrics, spans, bounded = steps.metrics, steps.spans, steps.bounds.run
    in_flight = metrics.in_flight
    authenticated = spec is not None and isinstance(spec.access, roles.Role)
    always_logged = spec is None or not spec.probe

    async def handle(request: web.Request) -> web.StreamResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER)
        rid = incoming if incoming is not None and _REQUEST_ID.match(incoming) else _new_request_id()
        reset = logs.request_id.set(rid)
        in_flight.value += 1  # the gauge's `inc()` without its call (every request pays it, probes too)
        started = time.perf_counter()
        status = 499  # the client went away before an answer
        error: Exception | None = None
        # Ended in `finally`, after the log line.
        scope = spans.begin(request, label, rid) if spans is not None else None
        try:
            try:
                # Past `bound`, a TimeoutError (answered 504 by `_failure`).
                response = await (run(request) if bound is None else bounded(run(request), bound))
            except Exception as exc:
                response = _failure(request, spec, exc, bound)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = rid
            return response
        except web.HTTPException as exc:  # a redirect (`_failure` renders the others)
            status = exc.status
            raise
        except Exception as exc:
            error, status = exc, 500
            raise
        finally:
            elapsed = time.perf_counter() - started
            in_flight.value -= 1
            metrics.request_done(request.method, label, status, elapsed)
            if authenticated:
                principal = request.get(keys.PRINCIPAL)
                if principal is not None:
                    metrics.tenant_request_done(principal.tenant, label, status, elapsed)
            if always_logged or status >= 400:
                _access_log(request, label, status, elapsed)
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


def render(problem: problems.Problem, request: web.Request, spec: routing.RouteSpec | None) -> web.Response:
    """The problem+json response of a problem; on Open Inference Protocol routes (/v2) the protocol's own
    error body `{"error": "..."}`, which its clients (tritonclient, KServe's) read; on the OpenAI-compatible
    routes (under /v1/, or marked `openai_errors`) OpenAI's error shape, for OpenAI clients. `spec` is the
    matched route's declaration (None: no declared route matched)."""
    if request.path == "/v2" or request.path.startswith("/v2/"):
        return web.json_response({"error": problem.detail}, status=problem.status, headers=problem.headers)
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


def _failure(
    request: web.Request, spec: routing.RouteSpec | None, exc: Exception, bound: float | None
) -> web.Response:
    """The answer to a failed request: problem+json (never a stack trace) in the route's error shape. A
    redirect is re-raised, for aiohttp to send."""
    if isinstance(exc, problems.Problem):
        return render(exc, request, spec)
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        return render(_from_http(exc), request, spec)
    if isinstance(exc, TimeoutError):
        return render(
            problems.Problem(504, "timeout", "Timeout", f"the request took longer than {bound}s"),
            request,
            spec,
        )
    if isinstance(exc, _UNAVAILABLE):
        log.warning("dependency unavailable: %s", type(exc).__name__)
        return render(problems.unavailable("a dependency is not reachable; retry later"), request, spec)
    log.exception("unhandled error", exc_info=exc)
    currentspan.span().record_exception(exc)  # a no-op unless this request's span is recorded
    return render(problems.internal(), request, spec)


def _admitted(handler: Handler, access: roles.Role) -> Handler:
    """`handler` behind admission (`_admit`), with the decision's rate-limit headers on its response."""

    async def run(request: web.Request) -> web.StreamResponse:
        decision = await _admit(request, access)
        response = await handler(request)
        response.headers.update(decision.headers())
        return response

    return run


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
