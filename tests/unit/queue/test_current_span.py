"""`currentspan` reads and sets the same current span as the OpenTelemetry API, in fewer steps; when the
process runs another runtime context it falls back to the API itself."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from neuroedge_queue import currentspan


@pytest.fixture
def tracer() -> trace.Tracer:
    return TracerProvider().get_tracer("test")


def unsampled() -> trace.NonRecordingSpan:
    return trace.NonRecordingSpan(
        trace.SpanContext(0x1234, 0x5678, is_remote=False, trace_flags=trace.TraceFlags(0))
    )


def test_outside_every_span_nothing_is_current() -> None:
    assert trace.get_current_span() is trace.INVALID_SPAN  # the premise: no span leaked from elsewhere
    assert currentspan.found() is None
    assert currentspan.span() is trace.INVALID_SPAN
    assert currentspan.recording() is None


def test_a_span_the_sdk_made_current_is_the_current_span_here(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("request") as span:
        assert currentspan.found() is span
        assert currentspan.span() is span is trace.get_current_span()
        assert currentspan.recording() is span
    assert currentspan.found() is None


def test_a_non_recording_span_is_current_but_not_recording() -> None:
    span = unsampled()
    with trace.use_span(span):
        assert currentspan.span() is span
        assert currentspan.recording() is None


def test_an_ended_span_no_longer_records(tracer: trace.Tracer) -> None:
    span = tracer.start_span("ended")
    span.end()
    with trace.use_span(span):
        assert currentspan.recording() is None


def test_enter_makes_a_span_current_for_the_api_and_keeps_the_contexts_other_values(
    tracer: trace.Tracer,
) -> None:
    outer = otel_context.attach(otel_context.set_value("tenant", "acme"))
    try:
        span = unsampled()
        token = currentspan.enter(span)
        assert trace.get_current_span() is span
        assert otel_context.get_value("tenant") == "acme"
        currentspan.leave(token)
        assert trace.get_current_span() is trace.INVALID_SPAN
        assert otel_context.get_value("tenant") == "acme"
    finally:
        otel_context.detach(outer)


def test_spans_the_sdk_starts_under_an_entered_span_are_its_children() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    parent = tracer.start_span("request")
    token = currentspan.enter(parent)
    try:
        with tracer.start_as_current_span("query"):
            pass
    finally:
        currentspan.leave(token)
    parent.end()
    child = next(s for s in exporter.get_finished_spans() if s.name == "query")
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id


@pytest.fixture
def other_runtime_context(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The API running a runtime context other than the contextvars one (as `OTEL_PYTHON_CONTEXT` can make
    it): a wrapper that keeps its own attribute names."""
    real = otel_context._RUNTIME_CONTEXT

    class Wrapped(otel_context._RuntimeContext):  # type: ignore[misc]
        def attach(self, context: otel_context.Context) -> object:
            return real.attach(context)

        def get_current(self) -> otel_context.Context:
            return real.get_current()

        def detach(self, token: object) -> None:
            real.detach(token)  # type: ignore[arg-type]

    monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", Wrapped())
    importlib.reload(currentspan)
    yield
    monkeypatch.undo()
    importlib.reload(currentspan)


@pytest.mark.usefixtures("other_runtime_context")
def test_another_runtime_context_is_reached_through_the_api(tracer: trace.Tracer) -> None:
    assert currentspan._runtime_variable() is None
    assert currentspan._current is otel_context.get_current
    assert currentspan.leave is otel_context.detach
    with tracer.start_as_current_span("request") as span:
        assert currentspan.recording() is span
    other = unsampled()
    token = currentspan.enter(other)
    assert trace.get_current_span() is other
    currentspan.leave(token)
    assert currentspan.found() is None


def test_the_default_runtime_context_is_read_through_its_variable() -> None:
    assert currentspan._runtime_variable() is not None
    assert currentspan.leave.__self__ is currentspan._runtime_variable()  # type: ignore[attr-defined]
