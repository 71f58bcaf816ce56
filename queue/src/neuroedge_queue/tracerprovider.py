"""The SDK's tracer provider with a cheap `get_tracer`. Imports the SDK: loaded only when tracing is on.

Why: the SDK's `get_tracer` installs a warnings filter (which invalidates every module's warning cache) and
builds two scope objects before it finds the tracer it already made, about 15 microseconds; callers that
ask for their tracer at each call (the runtime's Redis client for the rate limiter, instrumentations) paid it
for every span. Here a repeated call is one dictionary lookup; the tracers are the SDK's own.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.util import types


class TracerProvider(sdk_trace.TracerProvider):
    """`sdk.trace.TracerProvider`, remembering the tracer of each (name, version, schema url) it was asked
    for without attributes (tracers with attributes are left to the SDK)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._named: dict[tuple[str, str | None, str | None], trace.Tracer] = {}

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes = None,
    ) -> trace.Tracer:
        if attributes is not None:
            return super().get_tracer(
                instrumenting_module_name, instrumenting_library_version, schema_url, attributes
            )
        key = (instrumenting_module_name, instrumenting_library_version, schema_url)
        tracer = self._named.get(key)
        if tracer is None:
            tracer = self._named[key] = super().get_tracer(*key)
        return tracer
