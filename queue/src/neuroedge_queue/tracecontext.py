"""W3C trace context inside jobs, so that the worker's span for a job continues the trace of the request that
enqueued it (and each retry or re-claim shows as another span of that trace).

Only the OpenTelemetry API is used here: with no SDK installed (tracing off, the default) `active()` is False,
nothing is injected, no span is made, and a job's JSON is byte for byte what it was without tracing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Iterator, Mapping
from typing import Any, TypeVar

from opentelemetry import context, trace
from opentelemetry.trace.propagation import tracecontext

from neuroedge_queue import currentspan, recordedspans

TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
"""A W3C `traceparent` header value (version-trace id-parent span id-flags)."""
_PROPAGATOR = tracecontext.TraceContextTextMapPropagator()
_TRACER = "neuroedge_queue"
T = TypeVar("T")


@functools.cache
def _tracer() -> trace.Tracer:
    """One tracer per process (a proxy until the SDK is installed, then the SDK's)."""
    return trace.get_tracer(_TRACER)


def active() -> bool:
    """True when a tracer provider was installed (the runtime or operator found OTEL_* configuration)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def current() -> str | None:
    """The `traceparent` of the active span, or None when there is none (tracing off, or outside a span)."""
    if not currentspan.span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> context.Context | None:
    """The remote parent context a job carries, or None (then a span starts a new trace)."""
    if not traceparent:
        return None
    return _PROPAGATOR.extract({"traceparent": traceparent})


@contextlib.contextmanager
def enqueue_span(queue: str, engine: str) -> Iterator[None]:
    """A PRODUCER span around one enqueue, when tracing is on; the job then carries this span's context.
    Inside an unsampled trace no span is made (ParentBased sampling would drop it): the job carries the
    request's own unsampled context, so the worker's span is not sampled either."""
    if not active():
        yield
        return
    current = currentspan.span()
    if current.get_span_context().is_valid and not current.is_recording():
        yield
        return
    attributes = {
        "messaging.system": "redis",
        "messaging.destination.name": queue,
        "neuroedge.engine": engine,
    }
    with _tracer().start_as_current_span(
        f"enqueue {engine}", kind=trace.SpanKind.PRODUCER, attributes=attributes
    ):
        yield


class TraceFormatter(logging.Formatter):
    """A plain-text log formatter that appends `trace_id=... span_id=...` while a span is active (the
    operator's and the worker's logs; the API's JSON logs carry them as fields)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        span = currentspan.span().get_span_context()
        if not span.is_valid:
            return text
        return f"{text} trace_id={span.trace_id:032x} span_id={span.span_id:016x}"


async def client_call(
    tracer: trace.Tracer, name: str, attributes: Mapping[str, str | int], call: Awaitable[T]
) -> T:
    """Await `call` (a database or cache round trip) inside a CLIENT span that is never made current: such a
    call starts no span of its own, and skipping the context switch takes about a quarter off the cost of
    each span a sampled request makes. Under a `recordedspans.RecordedSpan` (the API's request span) the
    span is one too. An exception marks the span failed, as the SDK's own spans do."""
    parent = currentspan.span()
    span: trace.Span | None = None
    if type(parent) is recordedspans.RecordedSpan:
        span = parent.child(tracer, name, trace.SpanKind.CLIENT, attributes)
    if span is None:
        span = tracer.start_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes)
    try:
        return await call
    except Exception as exc:
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        span.end()


def instrument_redis() -> None:
    """CLIENT spans for the Redis commands and pipelines of redis.asyncio, made only inside a recording span.

    OpenTelemetry's Redis instrumentation builds its attributes and a span for every command even when the
    trace is not sampled (about 50us a command here); this check costs one context lookup instead, which is
    what keeps 10% sampling cheap. Idempotent; called by the runtime's and the operator's `tracing.install`.
    """
    from redis.asyncio import client  # noqa: PLC0415 - only when tracing is on

    if getattr(client.Redis.execute_command, "_neuroedge_traced", False):
        return
    command, pipeline = client.Redis.execute_command, client.Pipeline.execute

    async def execute_command(self: client.Redis, *args: Any, **options: Any) -> Any:
        if currentspan.recording() is None:
            return await command(self, *args, **options)  # type: ignore[no-untyped-call]
        name = str(args[0]).upper() if args else "COMMAND"
        attributes = {"db.system": "redis", "db.operation.name": name}
        call = command(self, *args, **options)  # type: ignore[no-untyped-call]
        return await client_call(_tracer(), name, attributes, call)

    async def execute(self: client.Pipeline, raise_on_error: bool = True) -> list[Any]:
        if currentspan.recording() is None:
            return await pipeline(self, raise_on_error)
        attributes: dict[str, str | int] = {
            "db.system": "redis",
            "db.operation.name": "PIPELINE",
            "db.operation.batch.size": len(self.command_stack),
        }
        return await client_call(_tracer(), "PIPELINE", attributes, pipeline(self, raise_on_error))

    execute_command._neuroedge_traced = True  # type: ignore[attr-defined]
    client.Redis.execute_command = execute_command  # type: ignore[method-assign]
    client.Pipeline.execute = execute  # type: ignore[method-assign]
