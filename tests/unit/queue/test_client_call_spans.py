"""The CLIENT span around one database or cache round trip (`tracecontext.client_call`): a child of the
request's span that is never made current, ended when the call ends, and marked failed with the exception
when the call raises."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from neuroedge_queue import tracecontext


def tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # not installed globally: only this test's spans
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_the_call_runs_in_a_child_span_that_is_not_current() -> None:
    tracer_, exporter = tracer()
    seen: list[trace.Span] = []

    async def call() -> int:
        seen.append(trace.get_current_span())
        return 7

    async def request() -> int:
        with tracer_.start_as_current_span("POST /engine/predict") as parent:
            result = await tracecontext.client_call(tracer_, "EVALSHA", {"db.system": "redis"}, call())
            assert seen == [parent]  # the call ran with the request's span current, not its own
            return result

    assert asyncio.run(request()) == 7
    child, parent = exporter.get_finished_spans()
    assert (child.name, child.kind, dict(child.attributes or {})) == (
        "EVALSHA",
        trace.SpanKind.CLIENT,
        {"db.system": "redis"},
    )
    assert child.parent is not None and child.parent.span_id == parent.context.span_id
    assert child.status.status_code is trace.StatusCode.UNSET


def test_a_failed_call_marks_its_span_failed_and_raises() -> None:
    tracer_, exporter = tracer()

    async def call() -> None:
        raise ConnectionError("redis is gone")

    async def request() -> None:
        with tracer_.start_as_current_span("POST /engine/predict"):
            await tracecontext.client_call(tracer_, "GET", {"db.system": "redis"}, call())

    with pytest.raises(ConnectionError):
        asyncio.run(request())
    child = exporter.get_finished_spans()[0]
    assert child.name == "GET"
    assert child.status.status_code is trace.StatusCode.ERROR
    assert child.status.description == "ConnectionError: redis is gone"
    assert [event.name for event in child.events] == ["exception"]
