"""Recorded spans (`recordedspans`) reach the collector as the message the SDK's encoder makes of the SDK's
own spans made the same way: the same ids, names, kinds, times, attributes, events, exceptions, status and
parent, with the provider's span limits applied alike (oldest attributes and events dropped, and counted;
long strings cut). Only a provider whose spans would be encoded by `EncodingSpanProcessor` anyway, with a
sampler that records a recorded span's children, gets them; a disabled tracer's spans stay the SDK's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, TracerProvider, export, sampling
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from neuroedge_queue import otlpencoding, otlpexport, recordedspans, tracecontext

T0 = 1_700_000_000_000_000_000


class Queued:
    """Stands for the batch processor: the encoded spans it was given."""

    def __init__(self) -> None:
        self.items: list[otlpencoding.EncodedSpan] = []

    def queue(self, item: otlpencoding.EncodedSpan) -> None:
        self.items.append(item)


class Pair:
    """An SDK provider recording in memory, and a recorder with the same resource and limits."""

    def __init__(self, limits: SpanLimits | None = None) -> None:
        self.finished = InMemorySpanExporter()
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": "api"}),
            sampler=sampling.ParentBased(sampling.ALWAYS_ON),
            span_limits=limits,
        )
        self.provider.add_span_processor(export.SimpleSpanProcessor(self.finished))
        self.queued = Queued()
        limits = self.provider._span_limits
        self.recorder = recordedspans.Recorder(self.queued, self.provider.resource, limits)

    def sdk_message(self) -> ExportTraceServiceRequest:
        return encode_spans(self.finished.get_finished_spans())

    def recorded_message(self) -> ExportTraceServiceRequest:
        return ExportTraceServiceRequest.FromString(otlpencoding.encode(self.queued.items))


def _failure() -> ValueError:
    try:
        raise ValueError("upstream refused")
    except ValueError as error:
        return error


def _request(span: trace.Span, child: trace.Span, error: ValueError) -> None:
    """What the request path does to its spans, applied to either kind."""
    child.set_attribute("db.system", "redis")
    child.record_exception(error, timestamp=T0 + 2)
    child.set_status(trace.Status(trace.StatusCode.ERROR, "ValueError: upstream refused"))
    child.end(end_time=T0 + 3)
    span.set_attributes(
        {
            "http.route": "/engine/predict",
            "http.response.status_code": 503,
            "neuroedge.tenant": "acme-é",
            "ratio": 0.5,
            "tags": ["a", "b"],
            "flag": True,
        }
    )
    span.add_event("retry", {"attempt": 2}, timestamp=T0 + 4)
    span.set_attribute("http.response.status_code", 200)  # set again: the newest value, moved last
    span.update_name("POST /engine/{name}")
    span.set_status(trace.StatusCode.OK)
    span.set_status(trace.StatusCode.ERROR, "ignored: OK is final")
    span.end(end_time=T0 + 5)


def _both(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> tuple[recordedspans.RecordedSpan, Any]:
    """The same request traced by the SDK and by the recorder, with the SDK's ids and times."""
    api = pair.provider.get_tracer("neuroedge_runtime", "1.0")
    queue = pair.provider.get_tracer("neuroedge_queue")
    error = _failure()
    sdk_root = api.start_span("POST /engine/predict", kind=trace.SpanKind.SERVER, start_time=T0)
    sdk_child = queue.start_span(
        "EVALSHA",
        context=trace.set_span_in_context(sdk_root),
        kind=trace.SpanKind.CLIENT,
        attributes={"db.operation.name": "EVALSHA"},
        start_time=T0 + 1,
    )
    _request(sdk_root, sdk_child, error)

    root_context, child_context = sdk_root.get_span_context(), sdk_child.get_span_context()
    root = pair.recorder.root(
        api, "POST /engine/predict", trace.SpanKind.SERVER, root_context.trace_id, root_context.span_id
    )
    assert root is not None
    root.start_time = T0
    monkeypatch.setattr(recordedspans, "new_span_id", lambda: child_context.span_id)
    child = root.child(queue, "EVALSHA", trace.SpanKind.CLIENT, {"db.operation.name": "EVALSHA"})
    assert child is not None
    child.start_time = T0 + 1
    _request(root, child, error)
    assert child.get_span_context() == child_context
    assert root.get_span_context().trace_flags == root_context.trace_flags
    return root, sdk_root


def test_a_recorded_request_is_the_message_the_sdk_makes_of_the_same_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pair = Pair()
    _both(pair, monkeypatch)
    expected = pair.sdk_message()
    assert pair.recorded_message() == expected
    spans = expected.resource_spans[0].scope_spans
    assert [s.scope.name for s in spans] == ["neuroedge_queue", "neuroedge_runtime"]
    (child,) = spans[0].spans
    assert child.events[0].name == "exception" and child.status.message == "ValueError: upstream refused"


def test_span_limits_apply_as_in_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = SpanLimits(
        max_span_attributes=3,
        max_span_attribute_length=4,
        max_events=1,
        max_event_attributes=1,
    )
    pair = Pair(limits)
    root, _ = _both(pair, monkeypatch)
    expected = pair.sdk_message()
    assert pair.recorded_message() == expected
    server = expected.resource_spans[0].scope_spans[1].spans[0]
    assert server.dropped_attributes_count == 4 and server.dropped_events_count == 0
    assert [a.key for a in server.attributes] == ["tags", "flag", "http.response.status_code"]
    assert [v.string_value for v in server.attributes[0].value.array_value.values] == ["a", "b"]
    assert root.attributes["tags"] == ("a", "b")  # cleaned into a tuple, as the SDK stores it
    child = expected.resource_spans[0].scope_spans[0].spans[0]
    assert child.events[0].dropped_attributes_count == 3  # an exception event keeps its newest attribute


def test_more_events_than_the_limit_drop_the_oldest() -> None:
    pair = Pair(SpanLimits(max_events=2))
    api = pair.provider.get_tracer("api")
    span = pair.recorder.root(api, "job", trace.SpanKind.CONSUMER, 1, 2)
    assert span is not None
    for n in range(4):
        span.add_event(f"e{n}", timestamp=T0 + n)
    assert [e.name for e in span.events] == ["e2", "e3"] and span.dropped_events == 2


def test_an_ended_span_takes_nothing_more_and_is_queued_once(caplog: pytest.LogCaptureFixture) -> None:
    pair = Pair()
    span = pair.recorder.root(pair.provider.get_tracer("api"), "GET /health", trace.SpanKind.SERVER, 5, 6)
    assert span is not None and span.is_recording()
    span.end()
    assert not span.is_recording()
    span.set_attribute("late", 1)
    span.add_event("late")
    span.set_status(trace.StatusCode.ERROR)
    span.update_name("renamed")
    span.end()
    assert len(pair.queued.items) == 1
    assert span.attributes == {} and span.events == [] and span.name == "GET /health"
    assert span.status.status_code is trace.StatusCode.UNSET
    assert "Calling end() on an ended span." in caplog.text


def test_invalid_attributes_are_dropped_or_cleaned_as_the_sdk_does() -> None:
    pair = Pair()
    span = pair.recorder.root(pair.provider.get_tracer("api"), "x", trace.SpanKind.SERVER, 5, 6)
    assert span is not None
    span.set_attribute("", "no key")
    span.set_attribute("object", object())  # neither a valid value nor a plain str(): None, as the SDK
    span.set_attribute("path", type("Text", (str,), {})("/x"))
    assert span.attributes == {"object": None, "path": "/x"} and span.dropped_attributes == 1
    span.end()
    assert pair.recorded_message().resource_spans[0].scope_spans[0].spans[0].attributes[1].key == "path"


@pytest.fixture
def encoding_provider() -> Iterator[TracerProvider]:
    """A provider like the one `telemetry.start_provider` installs (never installed globally)."""
    exporter = otlpexport.OTLPSpanExporter(endpoint="http://collector.invalid/v1/traces")
    provider = TracerProvider(sampler=sampling.ParentBasedTraceIdRatio(0.1))
    provider.add_span_processor(otlpexport.EncodingSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def test_the_exporters_provider_gets_a_recorder_and_other_providers_do_not(
    encoding_provider: TracerProvider,
) -> None:
    assert recordedspans.Recorder.of(encoding_provider) is not None
    assert recordedspans.Recorder.of(Pair().provider) is None  # another span processor
    encoding_provider.add_span_processor(export.SimpleSpanProcessor(InMemorySpanExporter()))
    assert recordedspans.Recorder.of(encoding_provider) is None  # a second one
    for sampler in (
        sampling.TraceIdRatioBased(0.5),  # not ParentBased: a child could be dropped
        sampling.ParentBased(sampling.ALWAYS_ON, local_parent_sampled=sampling.ALWAYS_OFF),
    ):
        provider = TracerProvider(sampler=sampler)
        provider.add_span_processor(
            otlpexport.EncodingSpanProcessor(otlpexport.OTLPSpanExporter(endpoint="http://c.invalid"))
        )
        assert recordedspans.Recorder.of(provider) is None
        provider.shutdown()


def test_an_sdk_without_the_attributes_read_gets_no_recorder(encoding_provider: TracerProvider) -> None:
    """A private attribute `Recorder.of` reads, renamed by a future release: no shortcut, no crash."""
    del encoding_provider._span_limits
    assert recordedspans.Recorder.of(encoding_provider) is None


def test_a_disabled_tracer_or_a_tracer_without_scope_leaves_the_span_to_the_sdk() -> None:
    pair = Pair()
    tracer = pair.provider.get_tracer("api")
    assert pair.recorder.root(tracer, "x", trace.SpanKind.SERVER, 5, 6) is not None
    tracer._tracer_config.is_enabled = False  # type: ignore[attr-defined]  # as a tracer configurator does
    assert pair.recorder.root(tracer, "x", trace.SpanKind.SERVER, 5, 6) is None
    assert pair.recorder.root(trace.NoOpTracer(), "x", trace.SpanKind.SERVER, 5, 6) is None


def test_a_client_call_under_a_recorded_span_is_recorded_as_its_child() -> None:
    pair = Pair()
    tracer = pair.provider.get_tracer("neuroedge_queue")

    async def call() -> int:
        return 7

    async def request() -> int:
        root = pair.recorder.root(tracer, "POST /engine/predict", trace.SpanKind.SERVER, 9, 10)
        assert root is not None
        with trace.use_span(root, end_on_exit=True):
            assert trace.get_current_span() is root
            return await tracecontext.client_call(tracer, "EVALSHA", {"db.system": "redis"}, call())

    assert asyncio.run(request()) == 7
    assert pair.finished.get_finished_spans() == ()  # none went through the SDK
    (scope,) = pair.recorded_message().resource_spans[0].scope_spans
    child, root = scope.spans
    assert child.name == "EVALSHA" and child.kind == 3 and child.parent_span_id == root.span_id
    assert child.trace_id == root.trace_id == (9).to_bytes(16, "big")
    assert type(trace.get_current_span()) is not recordedspans.RecordedSpan


@pytest.mark.parametrize(
    ("flags", "state"),
    [
        (recordedspans.SAMPLED, trace.DEFAULT_TRACE_STATE),
        (trace.TraceFlags(trace.TraceFlags.DEFAULT), trace.TraceState([("vendor", "value")])),
    ],
)
def test_a_span_context_built_as_a_tuple_is_the_one_the_api_builds(
    flags: trace.TraceFlags, state: trace.TraceState
) -> None:
    """`span_context` skips `SpanContext.__new__`'s checks; the result must be the same tuple, and read
    the same through every property."""
    built = recordedspans.span_context(0xABC, 0xDEF, flags, state)
    made = trace.SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=flags, trace_state=state)
    assert type(built) is trace.SpanContext
    assert built == made
    assert (built.trace_id, built.span_id, built.is_remote, built.trace_flags, built.trace_state) == (
        0xABC,
        0xDEF,
        False,
        flags,
        state,
    )
    assert built.is_valid and built.trace_flags.sampled == made.trace_flags.sampled


def test_a_non_default_trace_state_is_encoded_as_the_sdk_encodes_it() -> None:
    """The encoder skips the default (empty) trace state by identity; another one is still written."""
    state = trace.TraceState([("vendor", "value")])
    pair = Pair()
    parent = recordedspans.span_context(0x1, 0x2, recordedspans.SAMPLED, state)
    sdk = pair.provider.get_tracer("t").start_span(
        "child", context=trace.set_span_in_context(trace.NonRecordingSpan(parent)), start_time=T0
    )
    sdk.end(end_time=T0 + 1)
    (finished,) = pair.finished.get_finished_spans()
    ours = ExportTraceServiceRequest.FromString(otlpencoding.encode([finished]))
    theirs = encode_spans([finished])
    assert ours == theirs
    assert ours.resource_spans[0].scope_spans[0].spans[0].trace_state == "vendor=value"
