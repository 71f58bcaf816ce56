"""OpenTelemetry tracing of a runtime process (API or worker), configured only by the standard `OTEL_*`
variables (read by `neuroedge_queue.telemetry`, by the same rules as the operator's). When it is off nothing
is installed: no tracer provider, no exporter thread, no middleware, no instrumented client; the queue sees
`tracecontext.active()` False and jobs carry no trace context.

When on: a SERVER span per API request (route, tenant, status, request id), a CONSUMER span per job attempt
that continues the enqueuing request's trace, and CLIENT child spans for PostgreSQL (asyncpg), Redis and
upstream HTTP calls (LLM, embeddings, model downloads: `spans`, with the aiohttp client's HTTP spans under
them). Spans go to the collector over
OTLP/HTTP in batches.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from opentelemetry import trace
from opentelemetry.trace.propagation import tracecontext as w3c

from neuroedge_queue import currentspan, jobs, recordedspans, telemetry, tracecontext
from neuroedge_runtime import keys, sampling

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_TRACER = "neuroedge_runtime"
_PROPAGATOR = w3c.TraceContextTextMapPropagator()
_ROOT_BOUND: int | None = None
"""`sampling.root_bound` of the installed sampler (None: every request asks the SDK); set by `install`."""
_DROP, _RECORD = sampling.Plan.DROP, sampling.Plan.RECORD
"""Module constants: Python 3.11 does not specialise an attribute read on a class (`Plan.DROP`), and every
request compares its plan with them."""
_NOT_RECORDING = trace.NonRecordingSpan
_RECORDER: recordedspans.Recorder | None = None
"""Makes a sampled request's span without the SDK's span objects, when the installed provider allows it
(`recordedspans.Recorder.of`); set by `install`."""


@functools.cache
def _tracer() -> trace.Tracer:
    """One tracer per process (a proxy until the SDK is installed, then the SDK's)."""
    return trace.get_tracer(_TRACER)


def install(settings: telemetry.Settings) -> TracerProvider | None:
    """Install the SDK, its batch exporter (`telemetry.start_provider`) and the client instrumentations when
    tracing is on; the caller shuts the returned provider down at exit (it flushes the last spans). None
    when tracing is off."""
    global _ROOT_BOUND, _RECORDER  # noqa: PLW0603 - the process's one sampler, read on every request
    if not settings.enabled:
        return None
    from neuroedge_runtime import drawnids  # noqa: PLC0415 - imports the SDK

    provider = telemetry.start_provider(settings, id_generator=drawnids.DrawnAheadIds())
    if provider is None:
        return None
    _ROOT_BOUND = sampling.root_bound(provider.sampler)
    _RECORDER = recordedspans.Recorder.of(provider)
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor  # noqa: PLC0415

    instrument_asyncpg()  # our own, like Redis's: free when the trace is not sampled
    tracecontext.instrument_redis()
    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    return provider


_PG_METHODS = ("execute", "executemany", "fetch", "fetchval", "fetchrow")


def instrument_asyncpg() -> None:
    """CLIENT spans for asyncpg's query methods (pooled connections call them too), made only inside a
    recording span.

    OpenTelemetry's asyncpg instrumentation runs a regex over the statement, builds its attributes and starts
    a span for every query even when the trace is not sampled (tens of microseconds a query, paid by the nine
    requests in ten that 10% sampling drops); here an unsampled query costs one context lookup. Idempotent.
    """
    from asyncpg import connection  # noqa: PLC0415 - only when tracing is on

    for name in _PG_METHODS:
        method = getattr(connection.Connection, name)
        if not getattr(method, "_neuroedge_traced", False):
            setattr(connection.Connection, name, _traced_query(method))


def _traced_query(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def traced(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if currentspan.recording() is None:
            return await method(self, query, *args, **kwargs)
        text = str(query)
        operation = text.split(None, 1)[0].upper() if text.strip() else "QUERY"
        attributes = _pg_attributes(self, operation, text)
        call = method(self, query, *args, **kwargs)
        return await tracecontext.client_call(_tracer(), operation, attributes, call)

    traced._neuroedge_traced = True  # type: ignore[attr-defined]
    return traced


def _pg_attributes(conn: Any, operation: str, query: str) -> dict[str, str | int]:
    """The query span's attributes (database conventions): the statement without its parameters."""
    params = getattr(conn, "_params", None)
    attributes: dict[str, str | int] = {
        "db.system.name": "postgresql",
        "db.operation.name": operation,
        "db.query.text": query[:2000],
        "db.namespace": str(getattr(params, "database", "") or ""),
    }
    address = getattr(conn, "_addr", None)
    if isinstance(address, tuple) and len(address) >= 2:  # (host, port)
        attributes["server.address"], attributes["server.port"] = str(address[0]), int(address[1])
    return attributes


class RequestSpans:
    """The SERVER span of a request (`requestpath` begins it first and ends it last, so the access log
    and every child run inside it); a caller's `traceparent` header makes it a child of the caller's trace.

    Built for the unsampled case, which is most requests at any useful ratio: without a traceparent, the
    sampling decision is taken on a drawn trace id before any SDK object exists (`sampling.plan`), and an
    unsampled request gets a non-recording span made directly (current, so its logs carry the ids and
    its jobs and upstream calls stay out of the trace). A recorded span gets what is known of the request
    when it starts, and its outcome at the end."""

    def begin(self, request: web.Request, label: str, request_id: str) -> tuple[trace.Span, object]:
        has_traceparent = "traceparent" in request.headers
        trace_id = sampling.new_trace_id()
        decision = sampling.plan(has_traceparent, _ROOT_BOUND, trace_id)
        if decision is _DROP:
            span: trace.Span = sampling.unsampled_span(trace_id)
        else:
            drawn = trace_id if decision is _RECORD else 0
            span = _start(request, label, request_id, has_traceparent, drawn)
        return span, currentspan.enter(span)

    def end(
        self, scope: tuple[trace.Span, object], request: web.Request, status: int, error: Exception | None
    ) -> None:
        span, token = scope
        currentspan.leave(token)
        if span.__class__ is _NOT_RECORDING or not span.is_recording():  # by type first: no call
            return
        if error is not None:
            span.record_exception(error)
        span.set_attributes(_outcome_attributes(request, status))
        if status >= 500:
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"HTTP {status}"))
        span.end()


def _start(
    request: web.Request, label: str, request_id: str, has_traceparent: bool, drawn: int
) -> trace.Span:
    """The recorded span of a request: a child of the caller's `traceparent`, or a root with the `drawn`
    trace id (0: the SDK draws one). A sampled root is a `recordedspans.RecordedSpan` when the provider
    allows it, else the SDK's span, as is every child of a caller's trace. What is known of the request
    from the start is set here (HTTP conventions, plus the request id); its outcome when it ends."""
    name = f"{request.method} {label}"
    attributes = {
        "http.request.method": request.method,
        "http.route": label,
        "url.path": request.path,
        "neuroedge.request_id": request_id,
    }
    if drawn and _RECORDER is not None:
        span = _RECORDER.root(
            _tracer(), name, trace.SpanKind.SERVER, drawn, recordedspans.new_span_id(), attributes=attributes
        )
        if span is not None:
            return span
    parent = _PROPAGATOR.extract(request.headers) if has_traceparent else None
    token = sampling.draw(drawn) if drawn else None  # the SDK's id generator hands out the drawn id
    try:
        return _tracer().start_span(name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes)
    finally:
        if token is not None:
            sampling.release(token)


def _outcome_attributes(request: web.Request, status: int) -> dict[str, str | int]:
    """A recorded request span's attributes when it ends: the status, and the tenant when the request was
    authenticated."""
    attributes: dict[str, str | int] = {"http.response.status_code": status}
    principal = request.get(keys.PRINCIPAL)
    if principal is not None:
        attributes["neuroedge.tenant"] = principal.tenant
    return attributes


@contextlib.contextmanager
def job_span(
    job: jobs.Job, attempt: int, tenant: str, pool: str, consumer: str
) -> Iterator[trace.Span | None]:
    """The CONSUMER span of one attempt at a job, a child of the span that enqueued it (its traceparent), so
    retries and re-claims appear as further spans of the request's trace. None when tracing is off; a
    non-recording span (kept current, so the job's calls stay out of the trace too) when the trace is not
    sampled, with no attribute computed."""
    if not tracecontext.active():
        yield None
        return
    with _tracer().start_as_current_span(
        f"run {job.engine}", context=tracecontext.context_of(job.traceparent), kind=trace.SpanKind.CONSUMER
    ) as span:
        if span.is_recording():
            span.set_attributes(
                {
                    "messaging.system": "redis",
                    "messaging.operation.type": "process",
                    "messaging.message.id": job.id,
                    "neuroedge.engine": job.engine,
                    "neuroedge.job.attempt": attempt,
                    "neuroedge.tenant": tenant,
                    "neuroedge.pool": pool,
                    "neuroedge.consumer": consumer,
                }
            )
        yield span


_OUTCOMES = {"ok": "succeeded", "retry": "retried", "fail": "failed", "dead": "dead_lettered"}


def record_outcome(span: trace.Span | None, settled: str, error: str | None) -> None:
    """What became of the attempt (the settle op's kind: succeeded, retried, failed, dead_lettered)."""
    if span is None or not span.is_recording():
        return
    span.set_attribute("neuroedge.job.outcome", _OUTCOMES.get(settled, settled))
    if error is not None:
        span.set_status(trace.Status(trace.StatusCode.ERROR, error[:200]))
