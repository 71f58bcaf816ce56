"""OpenTelemetry tracing of the operator, configured only by the standard `OTEL_*` variables (the same rules
as the runtime's, see docs/architecture.md): off, with nothing installed or imported beyond the API, unless an
OTLP endpoint or a traces exporter is set.

When on: a span per handler run on an object (`reconcile <Kind>` for every kind, `remove <Kind>`, the
extra periodic steps such as `autoscale WorkerPool`; attributes kind, namespace, name and outcome) whose
children are the pass's Kubernetes API calls (the kube client is aiohttp), SQL statements (asyncpg) and Redis
calls.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
from opentelemetry import trace

from neuroedge_queue import telemetry, tracecontext

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_TRACER = "neuroedge_operator"
SERVICE_NAME = "neuroedge-operator"
"""The operator's service name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES name one."""


@functools.cache
def _tracer() -> trace.Tracer:
    """One tracer per process (a proxy until the SDK is installed, then the SDK's)."""
    return trace.get_tracer(_TRACER)


FORWARDED = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
)
"""The operator's OTEL_* variables that its runtime pods inherit. Not OTEL_SERVICE_NAME (each pod names its
own component) and not OTEL_EXPORTER_OTLP_HEADERS: headers usually carry the collector's credentials, and a
pod template in a tenant's namespace is readable by the tenant."""


def runtime_env(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The tracing configuration the runtime pods of Engines and WorkerPools get, so that one setting (the
    operator's, e.g. the chart's `tracing` values) traces the whole platform the same way: the FORWARDED
    variables that are set, and OTEL_RESOURCE_ATTRIBUTES without `service.*` entries. Empty when the
    operator's own tracing is off (its pods then carry no OTEL_* variable at all). Raises TracingConfigError
    as `telemetry.Settings.from_env` does."""
    if not telemetry.Settings.from_env(env, SERVICE_NAME).enabled:
        return ()
    forwarded = [(name, env[name]) for name in FORWARDED if env.get(name)]
    resource = [
        item.strip()
        for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")
        if item.strip() and not item.strip().startswith("service.")
    ]
    if resource:
        forwarded.append(("OTEL_RESOURCE_ATTRIBUTES", ",".join(resource)))
    return tuple(forwarded)


def install(settings: telemetry.Settings) -> TracerProvider | None:
    """Install the SDK and its batch exporter (`telemetry.start_provider`), then the asyncpg and Redis
    instrumentations, when tracing is on; the caller shuts the provider down at exit. None (and nothing
    imported) when tracing is off."""
    provider = telemetry.start_provider(settings)
    if provider is None:
        return None
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor  # noqa: PLC0415

    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    tracecontext.instrument_redis()  # our own: free when the trace is not sampled
    return provider


def client_trace_configs() -> list[aiohttp.TraceConfig]:
    """aiohttp trace configs that make a CLIENT span per request of the session they are given to (the
    operator's own Kubernetes client; kopf's watch streams are left out on purpose). Empty when off."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config  # noqa: PLC0415

    return [create_trace_config()]


@contextlib.contextmanager
def step_span(action: str, body: Mapping[str, Any]) -> Iterator[trace.Span]:
    """The span of one handler run on one object (`reconcile Tenant`, `remove VectorIndex`, `autoscale
    WorkerPool`); an exception marks it failed. A no-op span when tracing is off."""
    meta = body.get("metadata") or {}
    kind = str(body.get("kind", ""))
    attributes = {
        "neuroedge.kind": kind,
        "k8s.namespace.name": str(meta.get("namespace") or ""),
        "neuroedge.name": str(meta.get("name", "")),
    }
    with _tracer().start_as_current_span(f"{action} {kind}", attributes=attributes) as span:
        try:
            yield span
        except BaseException:
            span.set_attribute("neuroedge.outcome", "error")
            raise


def record_outcome(outcome: str) -> None:
    """The pass's outcome (ready, not_ready, error) on the active handler span."""
    span = trace.get_current_span()
    span.set_attribute("neuroedge.outcome", outcome)
    if outcome == "error":
        span.set_status(trace.Status(trace.StatusCode.ERROR, "the reconcile raised"))
