"""Tracing is configured by the standard OTEL_* variables only, and is off (nothing installed, no trace
context in jobs) when none is set; a whole process without them: tests/integration/runtime/
test_tracing_off_process.py."""

from __future__ import annotations

import logging

import pydantic
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from neuroedge_queue import jobs, producer, retry, telemetry, tracecontext
from neuroedge_runtime import tracing
from neuroedge_runtime.queue import execute

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_SERVICE_NAME": "api", "OTEL_TRACES_SAMPLER": "always_on"},
        {**ENDPOINT, "OTEL_SDK_DISABLED": "true"},
        {**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_tracing_is_off_without_an_exporter_or_when_disabled(env: dict[str, str]) -> None:
    settings = telemetry.Settings.from_env(env, "neuroedge-runtime-api")
    assert settings.enabled is False
    assert tracing.install(settings) is None


def test_an_endpoint_or_an_exporter_turns_it_on_with_the_default_service_name() -> None:
    assert telemetry.Settings.from_env(ENDPOINT, "svc") == telemetry.Settings(True, "otlp", "svc")
    traces_only = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    assert telemetry.Settings.from_env(traces_only, "svc").enabled
    assert telemetry.Settings.from_env({"OTEL_TRACES_EXPORTER": "console"}, "svc").exporter == "console"
    named = telemetry.Settings.from_env({**ENDPOINT, "OTEL_SERVICE_NAME": "edge-api"}, "svc")
    assert named.service_name is None  # the SDK takes OTEL_SERVICE_NAME itself
    attributed = {**ENDPOINT, "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=x"}
    assert telemetry.Settings.from_env(attributed, "svc").service_name is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
        ({**ENDPOINT, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    ],
)
def test_settings_it_cannot_honour_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(telemetry.TracingConfigError, match=named):
        telemetry.Settings.from_env(env, "svc")


def test_traceparent_round_trips_through_a_job() -> None:
    provider = TracerProvider()  # not installed globally: only this test's spans
    with provider.get_tracer("t").start_as_current_span("request") as span:
        carried = tracecontext.current()
        job = producer.build_job(producer.JobRequest("echo", {"a": 1}), 1.0, traceparent=carried)
    decoded = jobs.decode(jobs.encode(job))
    assert decoded.traceparent == carried
    parent = trace.get_current_span(tracecontext.context_of(decoded.traceparent)).get_span_context()
    assert parent.trace_id == span.get_span_context().trace_id
    assert parent.span_id == span.get_span_context().span_id
    assert parent.is_remote


def test_a_job_refuses_a_malformed_traceparent() -> None:
    with pytest.raises(pydantic.ValidationError, match="traceparent"):
        jobs.Job(id=jobs.new_job_id(), engine="echo", enqueued_at=1.0, traceparent="00-xyz-01")


def test_outside_a_span_there_is_no_trace_context() -> None:
    assert tracecontext.current() is None
    assert tracecontext.context_of(None) is None
    job = producer.build_job(producer.JobRequest("echo"), 1.0, traceparent=tracecontext.current())
    assert b"traceparent" not in jobs.encode(job)


def test_a_retried_job_keeps_its_trace_context() -> None:
    """The retry's attempt (and a re-drive from the dead letters) continues the same trace."""
    carried = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    job = producer.build_job(producer.JobRequest("echo"), 1.0, traceparent=carried)
    op = execute.settle_op(
        job,
        entry_id="1-0",
        attempt=1,
        outcome=execute.Outcome(None, "boom", 0.1),
        policy=retry.RetryPolicy(base=1.0, cap=30.0, max_attempts=3),
        now=2.0,
        draw=0.5,
    )
    assert op.kind == "retry"
    assert jobs.decode(op.c.encode()).traceparent == carried


def test_plain_logs_carry_the_trace_and_span_ids_only_inside_a_span() -> None:
    formatter = tracecontext.TraceFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "reconciled", None, None)
    assert formatter.format(record) == "INFO reconciled"
    with TracerProvider().get_tracer("t").start_as_current_span("pass") as span:
        context = span.get_span_context()
        text = formatter.format(record)
    assert text == f"INFO reconciled trace_id={context.trace_id:032x} span_id={context.span_id:016x}"
