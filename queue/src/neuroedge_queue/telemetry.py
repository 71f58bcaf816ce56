"""The OpenTelemetry setup every NeuroEdge process shares (runtime API, worker, operator): when tracing is on,
from the standard `OTEL_*` variables alone, and the tracer provider with its batch exporter.

Why here: the runtime and the operator both depend on this package and must read the same variables the same
way (the operator passes its own configuration on to the runtime pods it creates, so a setting one accepts
and the other refuses would break the pods). Each part keeps its own instrumentations (the runtime's asyncpg
wrapper and HTTP client spans, the operator's reconcile spans) in its own `tracing` module.

Tracing is on when an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or `..._TRACES_ENDPOINT`) or
`OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`); `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none` turn it off. The SDK reads the rest itself (`OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
`OTEL_BSP_*`). The SDK and the exporter are imported only when tracing is on: a process without OTEL_*
configuration never loads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.id_generator import IdGenerator

EXPORTERS = ("otlp", "console")


class TracingConfigError(ValueError):
    """An OTEL_* setting NeuroEdge cannot honour (the message names the variable)."""


@dataclass(frozen=True)
class Settings:
    """Whether to trace, with which exporter, under which service name (from the OTEL_* variables)."""

    enabled: bool
    exporter: str = "otlp"
    service_name: str | None = None
    """None: OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) names the service."""

    @classmethod
    def from_env(cls, env: Mapping[str, str], default_service: str) -> Settings:
        """The settings of a process whose service is `default_service` unless the variables name one."""
        disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if disabled or exporter == "none" or not (endpoint or exporter):
            return cls(enabled=False)
        exporter = exporter or "otlp"
        if exporter not in EXPORTERS:
            raise TracingConfigError(
                f"OTEL_TRACES_EXPORTER={exporter!r} is not supported (use otlp or console)"
            )
        protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        if exporter == "otlp" and protocol not in (None, "", "http/protobuf"):
            raise TracingConfigError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: NeuroEdge exports OTLP over "
                "HTTP (http/protobuf, the collector's port 4318)"
            )
        named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "")
        return cls(enabled=True, exporter=exporter, service_name=None if named else default_service)


def _processor(exporter: str) -> SpanProcessor:
    """The batch span processor of the exporter named: the OTLP one's queues spans encoded when they end
    (`otlpexport.EncodingSpanProcessor`), the console one's is the SDK's."""
    from opentelemetry.sdk.trace import export  # noqa: PLC0415 - only when tracing is on

    if exporter == "console":
        return export.BatchSpanProcessor(export.ConsoleSpanExporter())
    from neuroedge_queue import otlpexport  # noqa: PLC0415

    return otlpexport.EncodingSpanProcessor(otlpexport.OTLPSpanExporter())


def start_provider(settings: Settings, id_generator: IdGenerator | None = None) -> TracerProvider | None:
    """Install the SDK's tracer provider (the sampler from OTEL_TRACES_SAMPLER*) with a batch exporter as the
    process's global one; the caller adds its instrumentations and shuts the provider down at exit (that
    flushes the last spans). `id_generator`: the SDK's random one unless given (the runtime API draws a
    request's trace id itself to decide its sampling). None, with nothing imported or installed, when
    tracing is off."""
    if not settings.enabled:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: PLC0415

    from neuroedge_queue import tracerprovider  # noqa: PLC0415

    attributes = {SERVICE_NAME: settings.service_name} if settings.service_name else {}
    provider = tracerprovider.TracerProvider(resource=Resource.create(attributes), id_generator=id_generator)
    provider.add_span_processor(_processor(settings.exporter))
    trace.set_tracer_provider(provider)
    return provider
