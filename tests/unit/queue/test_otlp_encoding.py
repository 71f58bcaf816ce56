"""The span encoding written by hand (`otlpencoding`) is the message the OTLP exporter's own encoder makes
from the same spans: parsed with the official protobuf classes, the two requests are equal, for spans with
every kind of attribute value, events, links, an error status, remote and local parents, several resources
and scopes. And the exporter built on it sends those bytes through the SDK's HTTP client."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider, export, sampling
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from neuroedge_queue import otlpencoding, otlpexport

REMOTE = trace.SpanContext(
    0x4BF92F3577B34DA6A3CE929D0E0E4736,
    0x00F067AA0BA902B7,
    is_remote=True,
    trace_flags=trace.TraceFlags(1),
    trace_state=trace.TraceState([("vendor", "x1"), ("other", "y")]),
)


def _spans(resource: Resource) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource, sampler=sampling.ALWAYS_ON)
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(
        "neuroedge_runtime", "1.2", schema_url="https://opentelemetry.io/schemas/1.26"
    )
    other = provider.get_tracer("neuroedge_queue", attributes={"scope.kind": "queue"})
    parent = trace.set_span_in_context(trace.NonRecordingSpan(REMOTE))
    server = trace.SpanKind.SERVER
    with tracer.start_as_current_span("POST /engine/predict", context=parent, kind=server) as span:
        span.set_attributes(
            {
                "http.route": "/engine/predict",
                "http.response.status_code": 503,
                "neuroedge.tenant": "acme-é",
                "ratio": 0.25,
                "negative": -42,
                "big": 2**62,
                "flag": True,
                "tags": ("a", "b"),
                "sizes": (1, 2, 3),
                "empty": "",
            }
        )
        span.add_event("retry", {"attempt": 2})
        span.set_status(trace.Status(trace.StatusCode.ERROR, "HTTP 503"))
        with other.start_as_current_span(
            "enqueue score",
            kind=trace.SpanKind.PRODUCER,
            links=[trace.Link(REMOTE, {"link.kind": "origin"})],
        ):
            pass
        with tracer.start_as_current_span("EVALSHA", kind=trace.SpanKind.CLIENT) as child:
            child.set_attribute("db.system", "redis")
    with tracer.start_as_current_span("job", kind=trace.SpanKind.CONSUMER):
        pass
    with tracer.start_as_current_span("internal"):
        pass
    return list(exporter.get_finished_spans())


def _parsed(data: bytes) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(data)


def test_the_hand_written_encoding_is_the_exporters_message() -> None:
    spans = _spans(Resource.create({"service.name": "api", "k8s.namespace.name": "tenant-a"}))
    spans += _spans(Resource.create({"service.name": "worker"}))
    expected = encode_spans(spans)
    assert _parsed(otlpencoding.encode(spans)) == expected
    assert _parsed(otlpencoding.encode(spans)) == expected  # the second time from remembered attributes
    assert len(expected.resource_spans) == 2
    assert len(expected.resource_spans[0].scope_spans) == 2


def test_an_empty_batch_is_an_empty_request() -> None:
    assert otlpencoding.encode([]) == b""
    assert _parsed(b"") == encode_spans([])


class Recording(requests.Session):
    """A requests session that records what it would post and answers 200 (no socket)."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[bytes] = []

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.posted.append(kwargs["data"])
        response = requests.Response()
        response.status_code = 200
        response._content = b""
        return response


def test_the_exporter_sends_the_encoded_spans_through_the_sdk_client() -> None:
    session = Recording()
    exporter = otlpexport.OTLPSpanExporter(endpoint="http://collector.invalid/v1/traces", session=session)
    spans = _spans(Resource.create({"service.name": "api"}))
    assert exporter.export(spans) is export.SpanExportResult.SUCCESS
    (posted,) = session.posted
    assert _parsed(posted) == encode_spans(spans)
    exporter.shutdown()
    assert exporter.export(spans) is export.SpanExportResult.FAILURE


def test_a_batch_above_the_size_limit_is_dropped() -> None:
    session = Recording()
    exporter = otlpexport.OTLPSpanExporter(
        endpoint="http://collector.invalid/v1/traces", session=session, max_request_size=100
    )
    assert exporter.export(_spans(Resource.create({}))) is export.SpanExportResult.FAILURE
    assert session.posted == []


@pytest.mark.parametrize("value", [-1, 0, 1, 127, 128, 300, 2**63 - 1, -(2**63)])
def test_varints_read_back_as_int64(value: int) -> None:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue  # noqa: PLC0415

    assert AnyValue.FromString(otlpencoding._any_value(value)).int_value == value


def test_the_encoding_processor_sends_what_the_exporter_encoder_makes_of_the_same_spans() -> None:
    """Spans queued encoded when they end (`EncodingSpanProcessor`) reach the collector as the same
    message the SDK's encoder makes from the spans themselves; an unsampled span is not sent."""
    session = Recording()
    finished = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "api"}),
        sampler=sampling.ParentBased(sampling.ALWAYS_ON),
    )
    provider.add_span_processor(
        otlpexport.EncodingSpanProcessor(
            otlpexport.OTLPSpanExporter(endpoint="http://collector.invalid/v1/traces", session=session)
        )
    )
    provider.add_span_processor(export.SimpleSpanProcessor(finished))
    tracer = provider.get_tracer("neuroedge_runtime")
    with tracer.start_as_current_span("POST /engine/predict", kind=trace.SpanKind.SERVER) as span:
        span.set_attributes({"http.route": "/engine/predict", "neuroedge.tenant": "acme"})
        tracer.start_span("EVALSHA", kind=trace.SpanKind.CLIENT, attributes={"db.system": "redis"}).end()
    unsampled = trace.set_span_in_context(
        trace.NonRecordingSpan(trace.SpanContext(1, 2, is_remote=True, trace_flags=trace.TraceFlags(0)))
    )
    tracer.start_span("dropped", context=unsampled).end()
    assert provider.force_flush()
    (posted,) = session.posted
    assert _parsed(posted) == encode_spans(finished.get_finished_spans())
    assert [s.name for s in _parsed(posted).resource_spans[0].scope_spans[0].spans] == [
        "EVALSHA",
        "POST /engine/predict",
    ]
    provider.shutdown()
