"""Spans of the runtime's upstream calls (LLM, embeddings, model downloads) are made only when they would be
recorded: no span and no attribute work with tracing off or inside an unsampled trace, a CLIENT child of a
sampled request, a root when tracing is on and there is no request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased

from neuroedge_queue import tracecontext
from neuroedge_runtime import spans
from neuroedge_runtime.llm import config, upstream
from neuroedge_runtime.serving import artifacts


class Recorder:
    """A local provider (never installed globally) and what it exported."""

    def __init__(self, root_sampled: bool) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=ParentBased(ALWAYS_ON if root_sampled else ALWAYS_OFF))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("test")

    def names(self) -> list[str]:
        return [span.name for span in self.exporter.get_finished_spans()]


@pytest.fixture
def sampled(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    recorder = Recorder(root_sampled=True)
    monkeypatch.setattr(spans, "_tracer", lambda: recorder.tracer)
    monkeypatch.setattr(tracecontext, "active", lambda: True)
    yield recorder


def _never() -> spans.Attributes:
    raise AssertionError("attributes built for a span that is not recorded")


def test_tracing_off_makes_no_span_and_builds_no_attributes() -> None:
    assert not tracecontext.active()
    with spans.client("chat m", _never) as span:
        assert span is None
    spans.annotate(span, _never)
    spans.annotate_current(_never)
    spans.failed(span, "ignored")


def test_inside_an_unsampled_request_no_child_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder(root_sampled=False)
    monkeypatch.setattr(spans, "_tracer", lambda: recorder.tracer)
    monkeypatch.setattr(tracecontext, "active", lambda: True)
    with recorder.tracer.start_as_current_span("POST /v1/chat/completions") as request:
        assert request.get_span_context().is_valid and not request.is_recording()
        with spans.client("chat m", _never) as span:
            assert span is None
        spans.annotate_current(_never)
    assert recorder.names() == []


def test_inside_a_sampled_request_the_call_is_a_client_child_with_late_facts(sampled: Recorder) -> None:
    with sampled.tracer.start_as_current_span("POST /v1/chat/completions") as request:
        with spans.client("chat m", lambda: {"gen_ai.request.model": "m"}) as span:
            spans.annotate(span, lambda: {"http.response.status_code": 200})
        spans.annotate_current(lambda: {"gen_ai.usage.input_tokens": 12})
    child, parent = sampled.exporter.get_finished_spans()
    assert child.name == "chat m" and child.kind == trace.SpanKind.CLIENT
    assert child.parent is not None and child.parent.span_id == request.get_span_context().span_id
    assert dict(child.attributes or {}) == {"gen_ai.request.model": "m", "http.response.status_code": 200}
    assert dict(parent.attributes or {}) == {"gen_ai.usage.input_tokens": 12}


def test_a_failed_call_marks_its_span(sampled: Recorder) -> None:
    with sampled.tracer.start_as_current_span("request"):
        with spans.client("chat a", dict) as skipped:
            spans.failed(skipped, "a: HTTP 503")
        with pytest.raises(RuntimeError), spans.client("download model", dict):
            raise RuntimeError("unreachable")
    first, second, _ = sampled.exporter.get_finished_spans()
    assert first.status.status_code == trace.StatusCode.ERROR and first.status.description == "a: HTTP 503"
    assert second.status.status_code == trace.StatusCode.ERROR
    assert [event.name for event in second.events] == ["exception"]


def test_without_a_request_a_call_is_a_root_when_tracing_is_on(sampled: Recorder) -> None:
    with spans.client("download model", lambda: {"url.full": "https://models/x.onnx"}) as span:
        assert span is not None
    (root,) = sampled.exporter.get_finished_spans()
    assert root.parent is None and root.name == "download model"


def test_span_attributes_keep_secrets_out() -> None:
    chosen = config.Upstream.model_validate(
        {"baseURL": "https://llm.example:8443/v1", "model": "gpt-x", "apiKey": "sk-secret"}
    )
    found = upstream.span_attributes(chosen)
    assert found["server.address"] == "llm.example" and found["server.port"] == 8443
    assert found["gen_ai.request.model"] == "gpt-x"
    assert "sk-secret" not in repr(found)
    download = artifacts.download_attributes("https://user:pw@models.example/m.onnx?X-Amz-Signature=abc#f")
    assert download["url.full"] == "https://models.example/m.onnx"
    assert download["server.address"] == "models.example"
