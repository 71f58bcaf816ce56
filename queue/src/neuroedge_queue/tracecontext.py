"""W3C trace context inside jobs, so that the worker's span for a job continues the trace of the request that
enqueued it (and each retry or re-claim shows as another span of that trace).

Only the OpenTelemetry API is used here: with no SDK installed (tracing off, the default) `active()` is False,
nothing is injected, no span is made, and a job's JSON is byte for byte what it was without tracing.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator

from opentelemetry import context, trace
from opentelemetry.trace.propagation import tracecontext

TRACEPARENT = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
"""A W3C `traceparent` header value (version-trace id-parent span id-flags)."""
_PROPAGATOR = tracecontext.TraceContextTextMapPropagator()
_TRACER = "neuroedge_queue"


@functools.cache
def _tracer() -> trace.Tracer:
    """One tracer per process (a proxy until the SDK is installed, then the SDK's)."""
    return trace.get_tracer(_TRACER)


def active() -> bool:
    """True when a tracer provider was installed (the runtime or operator found OTEL_* configuration)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def current() -> str | None:
    """The `traceparent` of the active span, or None when there is none (tracing off, or outside a span)."""
    if not trace.get_current_span().get_span_context().is_valid:
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
    """A PRODUCER span around one enqueue, when tracing is on; the job then carries this span's context."""
    if not active():
        yield
        return
    tracer = _tracer()
    attributes = {
        "messaging.system": "redis",
        "messaging.destination.name": queue,
        "neuroedge.engine": engine,
    }
    with tracer.start_as_current_span(
        f"enqueue {engine}", kind=trace.SpanKind.PRODUCER, attributes=attributes
    ):
        yield


class TraceFormatter(logging.Formatter):
    """A plain-text log formatter that appends `trace_id=... span_id=...` while a span is active (the
    operator's and the worker's logs; the API's JSON logs carry them as fields)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        span = trace.get_current_span().get_span_context()
        if not span.is_valid:
            return text
        return f"{text} trace_id={span.trace_id:032x} span_id={span.span_id:016x}"
