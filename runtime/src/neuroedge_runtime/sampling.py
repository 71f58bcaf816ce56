"""The sampling decision of a request that comes without a `traceparent`, taken before any SDK object exists.

Why: at a useful ratio most requests are not sampled, and the SDK's `start_span` costs several microseconds
even when its answer is "drop" (parent lookups, the sampler's result objects, trace flags, a span context).
When the configured sampler decides a root span by its trace id alone (`traceidratio`, the root of
`parentbased_traceidratio`, `always_off`), the request path can draw the trace id itself, apply the same
rule, and only for a sampled request ask the SDK for a real span, with that very trace id
(`DrawnAheadIds`), so that the SDK's sampler agrees and the decision stays the one TraceIdRatioBased makes
for that id. A request with a `traceparent` always goes through the SDK (ParentBased honours its sampled
flag and trace state), as does every request under any other sampler.

Only the OpenTelemetry API is imported here (the tracing module, which imports this one, is loaded with
tracing off too); `root_bound` imports the SDK when called, and the id generator lives in `drawnids`.
"""

from __future__ import annotations

import contextvars
import enum
import random
from typing import Any

from opentelemetry import trace

from neuroedge_queue import recordedspans

TRACE_ID_LIMIT = (1 << 64) - 1
"""The low 64 bits of a trace id decide (TraceIdRatioBased's rule and its TRACE_ID_LIMIT)."""


class Plan(enum.Enum):
    """How the request's SERVER span is made."""

    SDK = "sdk"
    """Ask the SDK (an incoming traceparent, or a sampler whose root decision is not the trace id's)."""
    RECORD = "record"
    """A sampled root: an SDK span with the drawn trace id."""
    DROP = "drop"
    """An unsampled root: a non-recording span with the drawn ids, no SDK call."""


def root_bound(sampler: Any) -> int | None:
    """The bound under which a root span's trace id (its low 64 bits) is sampled, when `sampler` decides a
    root span by its trace id alone (always_on and always_off included); None when it does not (a custom
    sampler): then every request asks the SDK. ParentBased keeps its root sampler in a private attribute:
    if a future SDK renames it, the answer is None and only the shortcut is lost."""
    from opentelemetry.sdk.trace import sampling  # noqa: PLC0415 - only when tracing is on

    if isinstance(sampler, sampling.ParentBased):
        sampler = getattr(sampler, "_root", None)
    if isinstance(sampler, sampling.TraceIdRatioBased):
        return sampler.bound
    if sampler is sampling.ALWAYS_OFF:
        return 0
    if sampler is sampling.ALWAYS_ON:
        return TRACE_ID_LIMIT + 1  # every trace id is under it
    return None


def plan(has_traceparent: bool, bound: int | None, trace_id: int) -> Plan:
    """The plan for a request's span: `trace_id` is the id drawn for it (used only for a root)."""
    if has_traceparent or bound is None:
        return Plan.SDK
    return Plan.RECORD if trace_id & TRACE_ID_LIMIT < bound else Plan.DROP


def new_trace_id() -> int:
    """A random, valid (non-zero) trace id, as the SDK's RandomIdGenerator draws them."""
    trace_id = random.getrandbits(128)
    while trace_id == trace.INVALID_TRACE_ID:
        trace_id = random.getrandbits(128)
    return trace_id


UNSAMPLED_FLAGS = trace.TraceFlags(trace.TraceFlags.DEFAULT | trace.TraceFlags.RANDOM_TRACE_ID)
"""The flags the SDK gives an unsampled span of a random trace id (not sampled; the id is random)."""


def unsampled_span(trace_id: int) -> trace.NonRecordingSpan:
    """The span of a request that is not sampled: what the SDK would return for it, made directly (its
    context without `SpanContext.__new__`'s checks, which hold for drawn ids:
    `recordedspans.span_context`)."""
    return trace.NonRecordingSpan(
        recordedspans.span_context(trace_id, recordedspans.new_span_id(), UNSAMPLED_FLAGS)
    )


_DRAWN: contextvars.ContextVar[int] = contextvars.ContextVar("neuroedge_drawn_trace_id", default=0)


def draw(trace_id: int) -> contextvars.Token[int]:
    """Make `trace_id` the one the next root span gets (`drawnids.DrawnAheadIds`); `release` the token right
    after that span started. A context variable, so neither another task nor a thread can take it."""
    return _DRAWN.set(trace_id)


def release(token: contextvars.Token[int]) -> None:
    """End what `draw` began."""
    _DRAWN.reset(token)


def drawn() -> int:
    """The trace id drawn ahead in this context, or 0."""
    return _DRAWN.get()
