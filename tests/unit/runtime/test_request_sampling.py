"""The request span's sampling, decided before any SDK object exists for a request without a `traceparent`:
the same decision TraceIdRatioBased takes for the same trace id, a sampled request's SDK span carries that
id, an unsampled one gets a non-recording span with valid ids (its logs and jobs keep them), and a request
with a `traceparent` goes through the SDK, whose ParentBased sampler honours the caller's sampled flag."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import export, sampling
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from neuroedge_queue import otlpencoding, recordedspans, tracerprovider
from neuroedge_runtime import drawnids, logs, metrics, requestpath, routing, tracing
from neuroedge_runtime import sampling as request_sampling

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PARENT_ID = 0x00F067AA0BA902B7


@pytest.mark.parametrize(
    ("sampler", "bound"),
    [
        (sampling.ParentBasedTraceIdRatio(0.1), sampling.TraceIdRatioBased.get_bound_for_rate(0.1)),
        (sampling.TraceIdRatioBased(0.25), sampling.TraceIdRatioBased.get_bound_for_rate(0.25)),
        (sampling.ALWAYS_OFF, 0),
        (sampling.ParentBased(sampling.ALWAYS_OFF), 0),
        (sampling.ALWAYS_ON, 1 << 64),
        (sampling.ParentBased(sampling.ALWAYS_ON), 1 << 64),
    ],
)
def test_the_root_bound_is_known_only_for_samplers_that_decide_by_the_trace_id(
    sampler: sampling.Sampler, bound: int | None
) -> None:
    assert request_sampling.root_bound(sampler) == bound


def test_a_root_decision_is_the_one_trace_id_ratio_sampling_takes_for_that_id() -> None:
    ratio = sampling.TraceIdRatioBased(0.1)
    rng = random.Random(7)
    decisions = []
    for _ in range(2000):
        trace_id = rng.getrandbits(128) or 1
        plan = request_sampling.plan(False, ratio.bound, trace_id)
        assert plan is not request_sampling.Plan.SDK
        expected = ratio.should_sample(None, trace_id, "GET /x").decision.is_sampled()
        assert (plan is request_sampling.Plan.RECORD) == expected
        decisions.append(expected)
    assert 100 < sum(decisions) < 300  # about one in ten


def test_a_traceparent_or_an_unknown_sampler_leaves_the_decision_to_the_sdk() -> None:
    assert request_sampling.plan(True, 0, TRACE_ID) is request_sampling.Plan.SDK
    assert request_sampling.plan(True, 1 << 64, TRACE_ID) is request_sampling.Plan.SDK
    assert request_sampling.plan(False, None, TRACE_ID) is request_sampling.Plan.SDK


def test_an_unsampled_span_is_valid_and_not_recorded() -> None:
    span = request_sampling.unsampled_span(TRACE_ID)
    context = span.get_span_context()
    assert not span.is_recording()
    assert context.is_valid and context.trace_id == TRACE_ID
    assert not context.trace_flags.sampled and not context.is_remote
    made = trace.SpanContext(
        TRACE_ID, context.span_id, is_remote=False, trace_flags=request_sampling.UNSAMPLED_FLAGS
    )
    assert context == made and type(context) is type(made)  # the tuple SpanContext.__new__ builds
    assert context.trace_state == made.trace_state and context.trace_flags == made.trace_flags


def test_a_span_started_inside_draw_carries_the_drawn_trace_id() -> None:
    ids = drawnids.DrawnAheadIds()
    token = request_sampling.draw(TRACE_ID)
    try:
        assert ids.generate_trace_id() == TRACE_ID
    finally:
        request_sampling.release(token)
    assert ids.generate_trace_id() != TRACE_ID
    assert request_sampling.drawn() == 0


def test_the_provider_hands_out_one_tracer_per_name() -> None:
    provider = tracerprovider.TracerProvider()
    assert provider.get_tracer("a") is provider.get_tracer("a")
    assert provider.get_tracer("a") is not provider.get_tracer("b")
    assert provider.get_tracer("a", "1.0") is not provider.get_tracer("a")
    scoped = provider.get_tracer("a", attributes={"k": "v"})
    assert scoped is not provider.get_tracer("a")


class Recorder:
    """A local provider (never installed globally) like the runtime's, and what it exported."""

    def __init__(self, sampler: sampling.Sampler) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = tracerprovider.TracerProvider(sampler=sampler, id_generator=drawnids.DrawnAheadIds())
        self.provider.add_span_processor(export.SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")


@pytest.fixture
def recorder(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    recorder = Recorder(request.param)
    monkeypatch.setattr(tracing, "_tracer", lambda: recorder.tracer)
    monkeypatch.setattr(tracing, "_ROOT_BOUND", request_sampling.root_bound(recorder.provider.sampler))
    yield recorder


class LineCatcher(logging.Handler):
    """The access log's lines, formatted as they are logged (inside the request's span)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def access_log() -> Iterator[LineCatcher]:
    catcher = LineCatcher()
    logger = logging.getLogger("neuroedge_runtime.access")
    logger.addHandler(catcher)
    level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not the attribute: it clears the logger's isEnabledFor cache
    yield catcher
    logger.removeHandler(catcher)
    logger.setLevel(level)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(headers: dict[str, str] | None = None, answer: Handler | None = None) -> trace.SpanContext:
    """Run the request path, with the requests' spans, on a request; the span context its handler
    saw."""
    seen: list[trace.SpanContext] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(trace.get_current_span().get_span_context())
        return web.Response(status=201) if answer is None else await answer(request)

    app = web.Application()
    steps = requestpath.Steps(metrics.Metrics(), 30.0, tracing.RequestSpans())
    spec = routing.RouteSpec("POST", "/engine/{name}", handler, routing.PUBLIC, "Test", "test")
    routing.install(app, [spec], steps.wrap)
    request = make_mocked_request("POST", "/engine/predict", headers=headers, app=app)
    request._match_info = await app.router.resolve(request)  # as the server does before the handler
    request.match_info.current_app = app
    try:
        response = await request.match_info.handler(request)
        assert response.status == (201 if answer is None else 500)
    finally:
        assert not trace.get_current_span().get_span_context().is_valid  # detached again
    return seen[0]


@pytest.mark.parametrize("recorder", [sampling.ParentBasedTraceIdRatio(0.5)], indirect=True)
async def test_requests_without_traceparent_are_sampled_by_their_trace_id(recorder: Recorder) -> None:
    ratio = sampling.TraceIdRatioBased(0.5)
    contexts = [await _serve() for _ in range(200)]
    exported = {span.context.trace_id: span for span in recorder.exporter.get_finished_spans()}
    for context in contexts:
        assert context.is_valid
        expected = ratio.should_sample(None, context.trace_id, "x").decision.is_sampled()
        assert context.trace_flags.sampled == expected
        assert (context.trace_id in exported) == expected
    assert 40 < len(exported) < 160
    span = next(iter(exported.values()))
    assert span.kind is trace.SpanKind.SERVER and span.parent is None
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 201


@pytest.mark.parametrize("recorder", [sampling.ParentBasedTraceIdRatio(0.0)], indirect=True)
async def test_a_sampled_traceparent_is_honoured_whatever_the_ratio(recorder: Recorder) -> None:
    context = await _serve({"traceparent": f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"})
    assert context.trace_id == TRACE_ID and context.trace_flags.sampled
    (span,) = recorder.exporter.get_finished_spans()
    assert span.parent is not None and span.parent.span_id == PARENT_ID and span.parent.is_remote
    assert span.attributes is not None and span.attributes["http.route"] == "/engine/{name}"


@pytest.mark.parametrize("recorder", [sampling.ParentBasedTraceIdRatio(1.0)], indirect=True)
async def test_an_unsampled_traceparent_is_honoured_whatever_the_ratio(recorder: Recorder) -> None:
    context = await _serve({"traceparent": f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-00"})
    assert context.trace_id == TRACE_ID and not context.trace_flags.sampled
    assert recorder.exporter.get_finished_spans() == ()


class EveryOther(sampling.Sampler):
    """A sampler that does not decide by the trace id: every other root span."""

    def __init__(self) -> None:
        self.calls = 0

    def should_sample(self, *args: object, **kwargs: object) -> sampling.SamplingResult:
        self.calls += 1
        decision = sampling.Decision.RECORD_AND_SAMPLE if self.calls % 2 else sampling.Decision.DROP
        return sampling.SamplingResult(decision)

    def get_description(self) -> str:
        return "EveryOther"


@pytest.mark.parametrize("recorder", [sampling.ParentBased(EveryOther())], indirect=True)
async def test_under_another_sampler_the_sdk_decides_every_request(recorder: Recorder) -> None:
    assert tracing._ROOT_BOUND is None
    contexts = [await _serve() for _ in range(6)]
    assert [context.trace_flags.sampled for context in contexts] == [True, False] * 3
    assert len(recorder.exporter.get_finished_spans()) == 3


@pytest.mark.parametrize("recorder", [sampling.ParentBasedTraceIdRatio(1.0)], indirect=True)
async def test_a_recorded_request_span_has_route_status_and_request_id_and_its_log_line_the_ids(
    recorder: Recorder, access_log: LineCatcher
) -> None:
    context = await _serve({"X-Request-ID": "req-7"})
    (span,) = recorder.exporter.get_finished_spans()
    assert span.kind is trace.SpanKind.SERVER and span.name == "POST /engine/{name}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/engine/{name}"
    assert span.attributes["http.response.status_code"] == 201
    assert span.attributes["neuroedge.request_id"] == "req-7"
    (line,) = access_log.lines
    assert line["trace_id"] == f"{context.trace_id:032x}" and line["span_id"] == f"{context.span_id:016x}"
    assert line["status"] == 201 and line["request_id"] == "req-7"


@pytest.mark.parametrize("recorder", [sampling.ParentBasedTraceIdRatio(0.0)], indirect=True)
async def test_an_unsampled_request_still_logs_its_trace_and_span_ids(
    recorder: Recorder, access_log: LineCatcher
) -> None:
    context = await _serve()
    assert context.is_valid and not context.trace_flags.sampled
    assert recorder.exporter.get_finished_spans() == ()
    (line,) = access_log.lines
    assert line["trace_id"] == f"{context.trace_id:032x}" and line["span_id"] == f"{context.span_id:016x}"


@pytest.mark.parametrize("recorder", [sampling.ParentBasedTraceIdRatio(1.0)], indirect=True)
async def test_an_unhandled_exception_is_a_500_and_marks_the_span_failed(
    recorder: Recorder, access_log: LineCatcher
) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("boom")

    await _serve(answer=broken)
    (span,) = recorder.exporter.get_finished_spans()
    assert span.status.status_code is trace.StatusCode.ERROR
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 500
    assert [event.name for event in span.events] == ["exception"]
    assert [line["status"] for line in access_log.lines if "status" in line] == [500]


class Queued:
    """Stands for the batch processor of a recorder: the encoded spans it was given."""

    def __init__(self) -> None:
        self.items: list[otlpencoding.EncodedSpan] = []

    def queue(self, item: otlpencoding.EncodedSpan) -> None:
        self.items.append(item)


@pytest.mark.parametrize("recorder", [sampling.ParentBasedTraceIdRatio(0.5)], indirect=True)
async def test_with_a_recorder_sampled_roots_are_recorded_spans_and_traceparents_stay_the_sdks(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = Queued()
    provider = recorder.provider
    monkeypatch.setattr(
        tracing, "_RECORDER", recordedspans.Recorder(queued, provider.resource, provider._span_limits)
    )
    contexts = [await _serve({"X-Request-ID": f"req-{n}"}) for n in range(40)]
    sampled = [context for context in contexts if context.trace_flags.sampled]
    assert 5 < len(sampled) < 35 and recorder.exporter.get_finished_spans() == ()
    message = ExportTraceServiceRequest.FromString(otlpencoding.encode(queued.items))
    spans = message.resource_spans[0].scope_spans[0].spans
    assert [s.trace_id for s in spans] == [c.trace_id.to_bytes(16, "big") for c in sampled]
    assert [s.span_id for s in spans] == [c.span_id.to_bytes(8, "big") for c in sampled]
    attributes = {a.key: a.value for a in spans[0].attributes}
    assert spans[0].name == "POST /engine/{name}" and spans[0].kind == 2 and not spans[0].parent_span_id
    assert attributes["http.route"].string_value == "/engine/{name}"
    assert attributes["http.response.status_code"].int_value == 201
    assert attributes["neuroedge.request_id"].string_value.startswith("req-")

    context = await _serve({"traceparent": f"00-{TRACE_ID:032x}-{PARENT_ID:016x}-01"})
    (span,) = recorder.exporter.get_finished_spans()  # a caller's trace: the SDK's span
    assert span.context == context and span.parent is not None and span.parent.span_id == PARENT_ID
