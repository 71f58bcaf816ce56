"""Child spans of the runtime's upstream HTTP calls (LLM gateway, external embeddings provider, model
downloads) and facts added to the span of the request, through the OpenTelemetry API only.

Why a module of its own: the span decision must cost nothing when it comes out "no". Every helper asks the
current span first; it builds attributes and starts a span only when that span records (a sampled trace), or
when there is no span at all and tracing is on (a root: the sampler decides). With tracing off (no SDK, the
default) or inside an unsampled trace, a call is one context lookup and an isinstance check: no span object,
no attribute dict. The attributes are passed as a callable for the same reason.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

from opentelemetry import trace
from opentelemetry.util import types

from neuroedge_queue import currentspan, tracecontext

_TRACER = "neuroedge_runtime"
Attributes = dict[str, types.AttributeValue]


@functools.cache
def _tracer() -> trace.Tracer:
    """One tracer per process (a proxy until the SDK is installed, then the SDK's)."""
    return trace.get_tracer(_TRACER)


def wanted() -> bool:
    """Whether a new child span would be recorded: the current span records, or there is none and tracing
    is on. An unsampled parent (ParentBased sampling would drop the child anyway) or tracing off: False."""
    current = currentspan.span()
    if current.is_recording():
        return True
    return not current.get_span_context().is_valid and tracecontext.active()


@contextlib.contextmanager
def client(name: str, attributes: Callable[[], Attributes]) -> Iterator[trace.Span | None]:
    """A CLIENT span around one upstream call when `wanted()`, else nothing (None). An exception that
    escapes marks the span failed (the SDK records it)."""
    if not wanted():
        yield None
        return
    with _tracer().start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes()) as span:
        yield span


def annotate(span: trace.Span | None, attributes: Callable[[], Attributes]) -> None:
    """Add facts known only after the call (tokens used, bytes read) to `span`, when there is one that
    records."""
    if span is not None and span.is_recording():
        span.set_attributes(attributes())


def annotate_current(attributes: Callable[[], Attributes]) -> None:
    """Add facts to the active span (the request's SERVER span or the job's CONSUMER span) when it
    records."""
    annotate(currentspan.span(), attributes)


def failed(span: trace.Span | None, description: str) -> None:
    """Mark `span` failed without an exception (an upstream's 5xx answer that is skipped for the next)."""
    if span is not None and span.is_recording():
        span.set_status(trace.Status(trace.StatusCode.ERROR, description[:200]))
