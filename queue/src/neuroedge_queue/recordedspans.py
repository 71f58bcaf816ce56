"""Recorded spans made without the SDK's span objects, for the hot path of a sampled request: the API's
SERVER span and the CLIENT spans of its database and cache calls.

Why: an SDK span is some twenty Python objects and about two hundred function calls between `start_span` and
the processor's `on_end` (the sampler, `BoundedAttributes` cleaning each value under a lock, bounded event
and link lists with locks of their own, a `ReadableSpan` copy at the end, the multi-processor loop). Counted
with callgrind on `/engine/predict`, a request at 100% sampling executed 527 thousand more instructions than
an unsampled one, nearly all of it that machinery. A `RecordedSpan` keeps what the OTLP message needs in
plain slots and, when it ends, is written by `otlpencoding` straight into the batch processor's queue.

It is used only where it gives the SDK's result (`Recorder.of`): the provider's only span processor is an
`otlpexport.EncodingSpanProcessor` (what the OTLP exporter installs, so the span is encoded either way) and
its sampler records the children of a recorded local parent (ParentBased's default). The root's sampling is
decided by the caller with the SDK's own rule (the runtime's `sampling.plan`); every other span, and every
span under any other configuration, is the SDK's. The span limits of the provider (OTEL_SPAN_ATTRIBUTE_*,
OTEL_SPAN_EVENT_COUNT_LIMIT, ...) apply as in the SDK. The SDK's own span metrics (an opt-in meter) do not
count these spans.

Imports only the OpenTelemetry API; `Recorder.of` imports the SDK when called (tracing is on then).
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry import attributes as otel_attributes
from opentelemetry import trace
from opentelemetry.util import types

from neuroedge_queue import otlpencoding

log = logging.getLogger(__name__)

SAMPLED = trace.TraceFlags(trace.TraceFlags.SAMPLED | trace.TraceFlags.RANDOM_TRACE_ID)
"""The flags the SDK gives a sampled span of a random trace id."""
_PLAIN = frozenset((str, bool, int, float))
_new_tuple = tuple.__new__


def span_context(
    trace_id: int, span_id: int, flags: trace.TraceFlags, state: trace.TraceState = trace.DEFAULT_TRACE_STATE
) -> trace.SpanContext:
    """A local (not remote) SpanContext of ids known to be valid (drawn non-zero, within range), built as
    the tuple it is (trace id, span id, is remote, flags, state, is valid), as `SpanContext.__new__` builds
    it after checking the ids' ranges: every span made here and every unsampled request span
    (`sampling.unsampled_span`) makes one, and the Python-level `__new__` was a fifth of the cost of the
    latter. A unit test compares the result with `SpanContext(...)`, so a release that changes the layout
    fails there."""
    return _new_tuple(trace.SpanContext, (trace_id, span_id, False, flags, state, True))


class Event(NamedTuple):
    """A span event, as the OTLP encoder reads one."""

    name: str
    attributes: Mapping[str, Any]
    timestamp: int
    dropped_attributes: int = 0


class Link(NamedTuple):
    """A span link, as the OTLP encoder reads one."""

    context: trace.SpanContext
    attributes: Mapping[str, Any]
    dropped_attributes: int = 0


class Recorder:
    """What a recorded span takes from the installed SDK: the queue it goes to when it ends, the resource and
    the span limits. One per provider (`of`)."""

    def __init__(self, processor: Any, resource: Any, limits: Any) -> None:
        self.processor = processor
        self.resource = resource
        self.max_attributes: int | None = limits.max_span_attributes
        self.max_length: int | None = limits.max_span_attribute_length
        self.max_other_length: int | None = limits.max_attribute_length
        """Events' and links' values are cut to the general limit, as the SDK cuts them."""
        self.max_events: int | None = limits.max_events
        self.max_event_attributes: int | None = limits.max_event_attributes
        self.max_links: int | None = limits.max_links
        self.max_link_attributes: int | None = limits.max_link_attributes
        self._scopes: dict[int, tuple[trace.Tracer, Any, Any]] = {}

    @classmethod
    def of(cls, provider: Any) -> Recorder | None:
        """The recorder of an SDK tracer provider, or None when its spans must be the SDK's (another span
        processor, or a sampler that may drop the child of a recorded span)."""
        from opentelemetry.sdk.trace import sampling  # noqa: PLC0415 - tracing is on

        from neuroedge_queue import otlpexport  # noqa: PLC0415 - imports the SDK and the exporter

        # The SDK's private attributes, each read with a fallback: a release that renames one costs the
        # shortcut (None: the SDK makes every span), never the process.
        active = getattr(provider, "_active_span_processor", None)
        processors: Sequence[Any] = getattr(active, "_span_processors", ())
        if len(processors) != 1 or type(processors[0]) is not otlpexport.EncodingSpanProcessor:
            return None
        sampler = provider.sampler
        if not isinstance(sampler, sampling.ParentBased):
            return None
        if getattr(sampler, "_local_parent_sampled", None) is not sampling.ALWAYS_ON:
            return None
        limits = getattr(provider, "_span_limits", None)
        return None if limits is None else cls(processors[0], provider.resource, limits)

    def scope(self, tracer: trace.Tracer) -> Any:
        """The instrumentation scope of an SDK tracer (or of the one a proxy tracer stands for); None when it
        has none or is disabled by the provider's tracer configurator (then the SDK decides the span)."""
        known = self._scopes.get(id(tracer))
        if known is None:
            sdk_tracer = getattr(tracer, "_tracer", tracer)  # a ProxyTracer's delegate, once there is one
            scope = getattr(sdk_tracer, "_instrumentation_scope", None)
            if scope is None:
                return None
            known = self._scopes[id(tracer)] = (tracer, sdk_tracer, scope)  # the tracer kept: its id stays
        enabled = getattr(known[1], "_is_enabled", None)
        return known[2] if enabled is None or enabled() else None

    def root(
        self,
        tracer: trace.Tracer,
        name: str,
        kind: trace.SpanKind,
        trace_id: int,
        span_id: int,
        *,
        attributes: types.Attributes = None,
    ) -> RecordedSpan | None:
        """A sampled root span of `tracer` with the ids its sampling was decided on; None when the SDK must
        make it (`scope`)."""
        scope = self.scope(tracer)
        if scope is None:
            return None
        context = span_context(trace_id, span_id, SAMPLED)
        return RecordedSpan(
            self, scope, name=name, kind=kind, context=context, parent=None, attributes=attributes
        )


def new_span_id() -> int:
    """A random, valid (non-zero) span id, as the SDK's RandomIdGenerator draws them: the ids of the spans
    made here, and of the runtime's unsampled request spans (`sampling.unsampled_span`)."""
    span_id = random.getrandbits(64)
    while span_id == trace.INVALID_SPAN_ID:
        span_id = random.getrandbits(64)
    return span_id


class RecordedSpan(trace.Span):
    """A sampled span of the request path, recorded in slots and encoded when it ends (see the module)."""

    __slots__ = (
        "_attributes",
        "_ended",
        "_events",
        "_links",
        "_recorder",
        "context",
        "dropped_attributes",
        "dropped_events",
        "dropped_links",
        "end_time",
        "instrumentation_scope",
        "kind",
        "name",
        "parent",
        "resource",
        "start_time",
        "status",
    )

    def __init__(
        self,
        recorder: Recorder,
        scope: Any,
        *,
        name: str,
        kind: trace.SpanKind,
        context: trace.SpanContext,
        parent: trace.SpanContext | None,
        attributes: types.Attributes,
    ) -> None:
        self._recorder = recorder
        self._ended = False
        self.resource = recorder.resource
        self.instrumentation_scope = scope
        self.name = name
        self.kind = kind
        self.context = context
        self.parent = parent
        self._attributes: dict[str, Any] = {}
        self.dropped_attributes = self.dropped_events = self.dropped_links = 0
        self._events: list[Event] = []
        self._links: list[Link] = []
        self.status = otlpencoding.UNSET
        self.end_time = 0
        if attributes:
            self.set_attributes(attributes)
        self.start_time = time.time_ns()

    def child(
        self, tracer: trace.Tracer, name: str, kind: trace.SpanKind, attributes: types.Attributes = None
    ) -> RecordedSpan | None:
        """A span of `tracer` in the same trace, under this one (sampled: ParentBased samples a sampled local
        parent's children, which `Recorder.of` checked); None when the SDK must make it (`Recorder.scope`)."""
        scope = self._recorder.scope(tracer)
        if scope is None:
            return None
        parent = self.context
        trace_id, _, _, flags, state, _ = parent  # the tuple it is: no property call per field
        context = span_context(trace_id, new_span_id(), flags, state)
        return RecordedSpan(
            self._recorder, scope, name=name, kind=kind, context=context, parent=parent, attributes=attributes
        )

    @property
    def attributes(self) -> dict[str, Any]:
        """The attributes (a plain dict, which the encoder reads as `_attributes`)."""
        return self._attributes

    @property
    def events(self) -> list[Event]:
        return self._events

    @property
    def links(self) -> list[Link]:
        return self._links

    def get_span_context(self) -> trace.SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return not self._ended

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        """`set_attribute` of each; a new key with a plain value that needs no cleaning and fits under the
        count limit is stored here directly (the request path's attributes, a call per key saved)."""
        known, limits = self._attributes, self._recorder
        for key, value in attributes.items():
            kind = type(value)
            if (
                kind in _PLAIN
                and (kind is not str or limits.max_length is None)
                and type(key) is str
                and key
                and key not in known
                and (limits.max_attributes is None or len(known) < limits.max_attributes)
                and not self._ended
            ):
                known[key] = value
            else:
                self.set_attribute(key, value)

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self._ended:
            log.warning("Setting attribute on ended span.")
            return
        limits = self._recorder
        if limits.max_attributes == 0 or not key or type(key) is not str:
            if key == "" or type(key) is not str:
                log.warning("invalid key `%s`. must be non-empty string. Dropping key from attributes.", key)
            self.dropped_attributes += 1
            return
        if type(value) not in _PLAIN or (type(value) is str and limits.max_length is not None):
            value = otel_attributes._clean_attribute_value(value, limits.max_length)
        known = self._attributes
        if key in known:
            del known[key]  # set again: it becomes the newest, as in the SDK's BoundedAttributes
        elif limits.max_attributes is not None and len(known) >= limits.max_attributes:
            del known[next(iter(known))]  # the oldest makes room, as in the SDK
            self.dropped_attributes += 1
        known[key] = value

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._ended:
            log.warning("Calling add_event() on an ended span.")
            return
        recorder = self._recorder
        if not _room(self._events, recorder.max_events):
            self.dropped_events += 1
        if recorder.max_events != 0:
            kept, dropped = _bounded(attributes, recorder.max_event_attributes, recorder.max_other_length)
            self._events.append(Event(name, kept, timestamp or time.time_ns(), dropped))

    def add_link(self, context: trace.SpanContext, attributes: types.Attributes = None) -> None:
        if self._ended or context is None or not context.is_valid:
            return
        recorder = self._recorder
        if not _room(self._links, recorder.max_links):
            self.dropped_links += 1
        if recorder.max_links != 0:
            kept, dropped = _bounded(attributes, recorder.max_link_attributes, recorder.max_other_length)
            self._links.append(Link(context, kept, dropped))

    def update_name(self, name: str) -> None:
        if not self._ended:
            self.name = name

    def set_status(self, status: trace.Status | trace.StatusCode, description: str | None = None) -> None:
        """As the SDK's: an OK status is final, and UNSET is never set."""
        if self._ended or self.status.status_code is trace.StatusCode.OK:
            return
        if isinstance(status, trace.Status):
            if status.status_code is not trace.StatusCode.UNSET:
                self.status = status
        elif status is not trace.StatusCode.UNSET:
            self.status = trace.Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """An `exception` event with the attributes the SDK gives it."""
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        recorded: dict[str, types.AnyValue] = {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            recorded.update(attributes)
        self.add_event("exception", recorded, timestamp)

    def end(self, end_time: int | None = None) -> None:
        """Encode the span and queue it for the exporter (once: a second end is ignored, with the SDK's
        warning)."""
        if self._ended:
            log.warning("Calling end() on an ended span.")
            return
        self._ended = True
        self.end_time = end_time or time.time_ns()
        try:
            body = otlpencoding.span(self)
        except Exception as error:  # a value the encoder cannot write: drop the span, not the request
            log.error("failed to encode span %r: %s", self.name, error)
            return
        self._recorder.processor.queue(
            otlpencoding.EncodedSpan(self.resource, self.instrumentation_scope, body)
        )

    def __repr__(self) -> str:
        return f"RecordedSpan(name={self.name!r}, context={self.context!r})"


def _room(items: list[Any], limit: int | None) -> bool:
    """Make room for one more event or link as the SDK's bounded lists do: at the limit the oldest goes.
    False when one is dropped (the oldest, or with a limit of zero the new one, which the caller skips)."""
    if limit is None or len(items) < limit:
        return True
    if items:
        del items[0]
    return False


def _bounded(
    attributes: types.Attributes, limit: int | None, max_length: int | None
) -> tuple[dict[str, Any], int]:
    """An event's or link's attributes cleaned as the SDK cleans them (invalid keys dropped), the newest
    `limit` of them kept, and how many were dropped."""
    given = dict(attributes or {})
    kept = dict(otel_attributes._clean_attribute_value(given, max_length))
    dropped = len(given) - len(kept)
    if limit is not None and len(kept) > limit:
        for key in list(kept)[: len(kept) - limit]:
            del kept[key]
            dropped += 1
    return kept, dropped
