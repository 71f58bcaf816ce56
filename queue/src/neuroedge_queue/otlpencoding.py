"""OTLP/protobuf encoding of finished spans (an `ExportTraceServiceRequest`), written as bytes directly.

Why not the exporter's own encoder: it builds a protobuf message object per span, attribute and value and
then serialises them, about 30 microseconds a span, in the exporter thread but holding the GIL, so the
event loop waits for it; at 100% sampling that was a tenth of the API's CPU. Writing the wire format
straight into one buffer, with the encoding of each repeated attribute (route, tenant, database system)
remembered, is several times cheaper. The output is the same message: a unit test parses it with the
official protobuf classes and compares it with what the exporter's encoder makes from the same spans.

Only the trace service's messages are written (opentelemetry/proto/trace/v1/trace.proto and
common/v1/common.proto); field numbers are named where they are used.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry import trace

_KIND = {
    trace.SpanKind.INTERNAL: 1,
    trace.SpanKind.SERVER: 2,
    trace.SpanKind.CLIENT: 3,
    trace.SpanKind.PRODUCER: 4,
    trace.SpanKind.CONSUMER: 5,
}
_HAS_IS_REMOTE, _IS_REMOTE = 0x100, 0x200
"""SpanFlags: the parent's is-remote bit is known (always, here), and it is set."""
_CACHE_LIMIT = 8192
_pairs: dict[tuple[str, type, Any], bytes] = {}
"""Encoded KeyValue fields by (key, value type, value): most attributes repeat from span to span."""
_SCALARS = frozenset((str, int, float, bool))
"""The value types whose pairs are remembered (exactly these: a subclass may compare equal and encode
differently)."""


_SMALL = [bytes((n,)) for n in range(128)]
_FIXED64 = struct.Struct("<Q")
_FIXED32 = struct.Struct("<I")
_DOUBLE = struct.Struct("<d")
_TIMES = struct.Struct("<BQBQ")
"""start_time_unix_nano (field 7) and end_time_unix_nano (field 8), both fixed64, tags included."""


def _varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0:
        value += 1 << 64  # int64: two's complement, ten bytes
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _field(field: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, embedded message)."""
    return _tag(field, 2) + _varint(len(payload)) + payload


def _string(field: int, text: str) -> bytes:
    return _field(field, text.encode("utf-8", "surrogatepass")) if text else b""


def _any_value(value: Any) -> bytes:
    """An AnyValue message (common.proto): string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7;
    None is the empty AnyValue."""
    if value is None:
        return b""
    if isinstance(value, str):
        return _field(1, value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bool):
        return _tag(2, 0) + _varint(int(value))
    if isinstance(value, int):
        return _tag(3, 0) + _varint(value)
    if isinstance(value, float):
        return _tag(4, 1) + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _field(7, value)
    if isinstance(value, Sequence):
        return _field(5, b"".join(_field(1, _any_value(item)) for item in value))
    if isinstance(value, Mapping):
        return _field(6, b"".join(_field(1, _key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"attribute value of type {type(value).__name__} cannot be encoded")


def _key_value(key: str, value: Any) -> bytes:
    """A KeyValue message: key 1, value 2."""
    return _string(1, key) + _field(2, _any_value(value))


def _attributes(field: int, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated KeyValue `field`, each pair's encoding remembered (the cache is emptied when full)."""
    if not attributes:
        return b""
    out = []
    for key, value in attributes.items():
        kind = type(value)
        cache_key = (key, kind, value) if kind in _SCALARS else None
        encoded = _pairs.get(cache_key) if cache_key is not None else None
        if encoded is None:
            encoded = _field(field, _key_value(key, value))
            if cache_key is not None:
                if len(_pairs) >= _CACHE_LIMIT:
                    _pairs.clear()
                _pairs[cache_key] = encoded
        out.append(encoded)
    return b"".join(out)


def _fixed64(field: int, value: int) -> bytes:
    return _tag(field, 1) + _FIXED64.pack(value)


def _fixed32(field: int, value: int) -> bytes:
    return _tag(field, 5) + _FIXED32.pack(value)


def _uint(field: int, value: int) -> bytes:
    return _tag(field, 0) + _varint(value) if value else b""


def _trace_state(state: trace.TraceState | None) -> str:
    return ",".join(f"{key}={value}" for key, value in state.items()) if state else ""


def _flags(parent: trace.SpanContext | None) -> int:
    return _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)


def _status(status: Any) -> bytes:
    """A Status message (message 2, code 3), always present as the exporter's encoder makes it."""
    if status is None:
        return b""
    return _field(15, _string(2, status.description or "") + _uint(3, status.status_code.value))


def _event(event: Any) -> bytes:
    """An Event message: time 1, name 2, attributes 3, dropped attributes 4."""
    return _field(
        11,
        _fixed64(1, event.timestamp)
        + _string(2, event.name)
        + _attributes(3, event.attributes)
        + _uint(4, event.dropped_attributes),
    )


def _link(link: Any) -> bytes:
    """A Link message: trace id 1, span id 2, attributes 4, dropped attributes 5, flags 6."""
    context = link.context
    return _field(
        13,
        _field(1, context.trace_id.to_bytes(16, "big"))
        + _field(2, context.span_id.to_bytes(8, "big"))
        + _attributes(4, link.attributes)
        + _uint(5, link.dropped_attributes)
        + _fixed32(6, _flags(context)),
    )


_SPAN_FLAGS = (_fixed32(16, _flags(None)), _fixed32(16, _HAS_IS_REMOTE | _IS_REMOTE))
_KIND_FIELD = {id(kind): _uint(6, value) for kind, value in _KIND.items()}
"""By the member's identity: an enum member's hash is a Python-level call."""
UNSET = trace.Status(trace.StatusCode.UNSET)
"""A status with nothing set; a span whose status is this very object gets `_UNSET_FIELD` without reading
it (`recordedspans` starts every span with it)."""
_UNSET_FIELD = _field(15, b"")
_NAME_TAG = _tag(5, 2)
_DEFAULT_STATE = trace.DEFAULT_TRACE_STATE


def _plain(sdk_span: Any) -> Mapping[str, Any]:
    """The span's attributes: its private `_attributes` when that is a dict (`recordedspans`), the dict
    inside the SDK's BoundedAttributes when it has one (`attributes` wraps it in a read-only proxy whose
    items are read through the Mapping ABC, a method call per key, most of the cost of writing them), else
    the public mapping."""
    private = getattr(sdk_span, "_attributes", None)
    if type(private) is dict:
        return private
    inner = getattr(private, "_dict", None)
    return inner if type(inner) is dict else sdk_span.attributes


def span(sdk_span: Any) -> bytes:
    """A Span message (trace.proto), unframed: trace id 1, span id 2, trace state 3, parent span id 4, name 5,
    kind 6, start and end times 7 and 8, attributes 9 (dropped 10), events 11 (dropped 12), links 13
    (dropped 14), status 15, flags 16. The fixed-size fields are written with their tags as constants.

    A SpanContext is a tuple (trace id, span id, is remote, flags, trace state, is valid) and is unpacked as
    one, instead of through a property call per field (the encoding test compares the message with the
    SDK's, so a release that changes the layout fails there)."""
    trace_id, span_id, _, _, trace_state, _ = sdk_span.context
    parent = sdk_span.parent
    out = bytearray(b"\x0a\x10")
    out += trace_id.to_bytes(16, "big")
    out += b"\x12\x08"
    out += span_id.to_bytes(8, "big")
    if trace_state is not _DEFAULT_STATE and trace_state:  # the default one is empty: no `__len__` call
        out += _string(3, _trace_state(trace_state))
    remote = False
    if parent is not None:
        out += b"\x22\x08"
        out += parent[1].to_bytes(8, "big")
        remote = parent[2]
    name = sdk_span.name.encode("utf-8", "surrogatepass")
    if name:
        out += _NAME_TAG
        out += _varint(len(name))
        out += name
    out += _KIND_FIELD[id(sdk_span.kind)]
    out += _TIMES.pack(7 << 3 | 1, sdk_span.start_time, 8 << 3 | 1, sdk_span.end_time)
    out += _attributes(9, _plain(sdk_span))
    dropped = sdk_span.dropped_attributes
    if dropped:
        out += _uint(10, dropped)
    # Events and links: the SDK's private lists tell whether there are any (its properties copy them into a
    # tuple each time); when a span has no such list, the property is read.
    items = getattr(sdk_span, "_events", None)
    if items is None or items:
        for event in sdk_span.events:
            out += _event(event)
    dropped = sdk_span.dropped_events
    if dropped:
        out += _uint(12, dropped)
    items = getattr(sdk_span, "_links", None)
    if items is None or items:
        for link in sdk_span.links:
            out += _link(link)
    dropped = sdk_span.dropped_links
    if dropped:
        out += _uint(14, dropped)
    status = sdk_span.status
    out += _UNSET_FIELD if status is UNSET else _status(status)
    out += _SPAN_FLAGS[bool(remote)]
    return bytes(out)


def _scope(scope: Any) -> bytes:
    """An InstrumentationScope message: name 1, version 2, attributes 3."""
    return _string(1, scope.name) + _string(2, scope.version or "") + _attributes(3, scope.attributes)


class EncodedSpan(NamedTuple):
    """A finished span already written as its Span message, with the resource and scope `encode` groups it
    by: what `otlpexport.EncodingSpanProcessor` queues instead of the SDK's span objects."""

    resource: Any
    instrumentation_scope: Any
    body: bytes


def encoded(sdk_span: Any) -> EncodedSpan:
    """`sdk_span` (a ReadableSpan) written now, to be sent later by `encode`."""
    return EncodedSpan(sdk_span.resource, sdk_span.instrumentation_scope, span(sdk_span))


def encode(sdk_spans: Sequence[Any]) -> bytes:
    """The serialised ExportTraceServiceRequest of `sdk_spans` (ReadableSpans, or spans `encoded` already),
    grouped by resource, then by instrumentation scope, as the exporter's encoder groups them. Grouped by
    identity: a process has one resource and a few scopes, and hashing a Resource serialises its attributes
    to JSON each time."""
    grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for sdk_span in sdk_spans:
        resource, scope = sdk_span.resource, sdk_span.instrumentation_scope or None
        scopes = grouped.setdefault(id(resource), (resource, {}))[1]
        body = sdk_span.body if type(sdk_span) is EncodedSpan else span(sdk_span)
        scopes.setdefault(id(scope), (scope, []))[1].append(body)
    out = []
    for resource, scopes in grouped.values():
        scope_spans = []
        for scope, spans in scopes.values():
            body = _field(1, _scope(scope) if scope is not None else b"")
            body += b"".join(_field(2, encoded) for encoded in spans)
            body += _string(3, scope.schema_url or "") if scope is not None else b""
            scope_spans.append(_field(2, body))
        resource_body = _field(1, _attributes(1, resource.attributes))
        out.append(_field(1, resource_body + b"".join(scope_spans) + _string(3, resource.schema_url or "")))
    return b"".join(out)
