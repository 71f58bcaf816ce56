"""The current span, read and set in one step instead of through the OpenTelemetry API's layers.

Why: with tracing on, every request makes its span current and takes it down again, and its access log
line, its Redis admission call and each of its queries read the current span. Through the API each read is
`get_current_span` -> `get_value` -> `get_current` -> the runtime context's `get_current`, then an ABC
`isinstance`: five Python calls to reach one context variable. Attaching and detaching are three more
layers each. On the nine requests in ten that 10% sampling drops, those calls were most of what tracing
cost. Here a read is the context variable's `get` and a dict lookup.

Same behaviour as the API: the same context variable and the same key, so spans made current by the SDK
(`start_as_current_span`, `use_span`) are seen here and the other way round. When the process runs another
runtime context (`OTEL_PYTHON_CONTEXT`), or a release moves the variable, this module falls back to the
API's own functions. One difference, on purpose: a value under the span key that is not a `Span` is
returned as it is (the API returns INVALID_SPAN); only the API's span functions write that key.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import propagation


def _runtime_variable() -> contextvars.ContextVar[otel_context.Context] | None:
    """The context variable behind the API's current context, when it runs the default contextvars runtime
    context (a private attribute: if a release renames it, the answer is None and the API is used)."""
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if isinstance(runtime, ContextVarsRuntimeContext) and isinstance(variable, contextvars.ContextVar):
        return variable
    return None


_KEY: str = propagation._SPAN_KEY  # the key the API keeps the current span under
_VARIABLE = _runtime_variable()
_current: Callable[[], Mapping[str, Any]] = (
    _VARIABLE.get if _VARIABLE is not None else otel_context.get_current
)
_attach: Callable[[otel_context.Context], Any] = (
    _VARIABLE.set if _VARIABLE is not None else otel_context.attach
)
leave: Callable[[Any], None] = _VARIABLE.reset if _VARIABLE is not None else otel_context.detach
"""End what `enter` began, with the token it returned (in the same task, as the API requires)."""
_INVALID = trace.INVALID_SPAN
_NOT_RECORDING = trace.NonRecordingSpan


def found() -> trace.Span | None:
    """The current span, or None when no span is current (tracing off, or outside every span)."""
    current: trace.Span | None = _current().get(_KEY)
    return current


def span() -> trace.Span:
    """The current span, or INVALID_SPAN: `trace.get_current_span()`."""
    current: trace.Span | None = _current().get(_KEY)
    return _INVALID if current is None else current


def recording() -> trace.Span | None:
    """The current span when it records, else None: what the client instrumentations ask before each
    call. A non-recording span (an unsampled request) is told by its type, without a call."""
    current: trace.Span | None = _current().get(_KEY)
    if current is None or current.__class__ is _NOT_RECORDING or not current.is_recording():
        return None
    return current


def enter(span: trace.Span) -> object:
    """Make `span` current in a copy of the current context: `attach(set_span_in_context(span))`. Returns
    the token for `leave`."""
    return _attach(otel_context.Context({**_current(), _KEY: span}))
