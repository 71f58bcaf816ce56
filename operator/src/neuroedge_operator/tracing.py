"""OpenTelemetry tracing of the operator, configured only by the standard `OTEL_*` variables (the same rules
as the runtime's, see docs/architecture.md): off, with nothing installed or imported beyond the API, unless an
OTLP endpoint or a traces exporter is set.

When on: a span per handler run on an object (`reconcile <Kind>` for every kind, `remove <Kind>`, the extra
timers such as `autoscale WorkerPool`; attributes kind, namespace, name and outcome) whose children are the
pass's Kubernetes API calls (the kube client is aiohttp), SQL statements (asyncpg) and Redis calls.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from opentelemetry import trace

from neuroedge_queue import tracecontext

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_TRACER = "neuroedge_operator"


@functools.cache
def _tracer() -> trace.Tracer:
    """One tracer per process (a proxy until the SDK is installed, then the SDK's)."""
    return trace.get_tracer(_TRACER)


class TracingConfigError(ValueError):
    """An OTEL_* setting the operator cannot honour (the message names the variable)."""


@dataclass(frozen=True)
class Settings:
    """Whether to trace, with which exporter (otlp or console), under which service name."""

    enabled: bool
    exporter: str = "otlp"
    service_name: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if disabled or exporter == "none" or not (endpoint or exporter):
            return cls(enabled=False)
        exporter = exporter or "otlp"
        if exporter not in ("otlp", "console"):
            raise TracingConfigError(
                f"OTEL_TRACES_EXPORTER={exporter!r} is not supported (use otlp or console)"
            )
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        if exporter == "otlp" and protocol not in (None, "", "http/protobuf"):
            raise TracingConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: the operator exports OTLP over "
                "HTTP (http/protobuf, the collector's port 4318)"
            )
        named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
        return cls(enabled=True, exporter=exporter, service_name=None if named else "neuroedge-operator")


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
    as `Settings.from_env` does."""
    if not Settings.from_env(env).enabled:
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


def install(settings: Settings) -> TracerProvider | None:
    """Install the SDK, a batch exporter and the asyncpg and Redis instrumentations when tracing is on;
    the caller shuts the provider down at exit. None (and nothing imported) when tracing is off."""
    if not settings.enabled:
        return None
    # Imported here: a process without OTEL_* configuration never loads the SDK.
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor  # noqa: PLC0415
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider, export  # noqa: PLC0415

    exporter: export.SpanExporter
    if settings.exporter == "console":
        exporter = export.ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415

        exporter = OTLPSpanExporter()
    attributes = {SERVICE_NAME: settings.service_name} if settings.service_name else {}
    provider = TracerProvider(resource=Resource.create(attributes))  # the sampler comes from OTEL_TRACES_*
    provider.add_span_processor(export.BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
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
