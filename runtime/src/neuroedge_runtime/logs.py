"""Structured JSON logs: one object per line, with the request id when there is one and the trace and span
ids when a span is active (tracing on)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from neuroedge_queue import currentspan

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


_second: tuple[int, str] = (-1, "")
"""The last whole second formatted, and its text: a log line costs a datetime only once a second."""


def timestamp(created: float) -> str:
    """`datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`, at a fraction of its cost
    (it was half of a JSON line's formatting)."""
    global _second  # noqa: PLW0603 - a one-entry cache; replaced whole, so safe across threads
    second, micro = divmod(round(created * 1_000_000), 1_000_000)
    cached, text = _second
    if second != cached:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (second, text)
    return f"{text}.{micro // 1000:03d}+00:00"


def document(created: float, level: str, logger: str, message: str, fields: object) -> dict[str, object]:
    """One log line's JSON object: its time, level and logger, the message, the request id and the active
    span's ids when there are any, then the record's own `fields` (a dict; anything else is left out)."""
    doc: dict[str, object] = {"ts": timestamp(created), "level": level, "logger": logger, "msg": message}
    rid = request_id.get()
    if rid:
        doc["request_id"] = rid
    span = currentspan.found()
    if span is not None:
        # A SpanContext is the tuple (trace id, span id, is remote, flags, state, is valid): unpacked,
        # not read through a property call per field (every access line of a traced request reads it).
        trace_id, span_id, _, _, _, valid = span.get_span_context()
        if valid:
            # From bytes, not `f"{trace_id:032x}"`: formatting big integers as hex was the dearer way
            # (see requestpath._new_request_id), and every access line of a traced request has both.
            doc["trace_id"] = trace_id.to_bytes(16, "big").hex()
            doc["span_id"] = span_id.to_bytes(8, "big").hex()
    if isinstance(fields, dict):
        doc.update(fields)
    return doc


class JsonFormatter(logging.Formatter):
    """Formats records as JSON; extra fields passed as `extra={"fields": {...}}` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        doc = document(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            getattr(record, "fields", None),
        )
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def emit(logger: logging.Logger, msg: str, args: tuple[Any, ...], fields: dict[str, Any]) -> None:
    """Log `msg % args` at INFO with `fields`, as `logger.info` would, at less than half its cost when the
    configuration is the one `configure` makes (one `LoopBatchedHandler` formatting with `JsonFormatter`,
    no filter on the way): the line is formatted and handed to that handler directly (`_direct`), without
    a LogRecord and the walk through `Logger.handle`, the handler's own `handle` and the formatter. Any
    other configuration (a filter, another handler, another formatter) gets a LogRecord through `logging`
    as usual. Either way without the source file and line `logger.info` looks up: an access log line
    written once per request has no use for them (a walk up the stack per record)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _direct(logger)
    if handler is not None and (line := _line(logger.name, msg, args, fields)) is not None:
        handler.write_line(line + handler.terminator)
        return
    logger.handle(
        logger.makeRecord(logger.name, logging.INFO, "", 0, msg, args, None, extra={"fields": fields})
    )


def _line(name: str, msg: str, args: tuple[Any, ...], fields: dict[str, Any]) -> str | None:
    """The JSON line `JsonFormatter` would write for an INFO record of logger `name`; None when it cannot be
    made (`msg` and `args` do not match), for logging's own path to report (`Handler.handleError`)."""
    try:
        doc = document(time.time(), "info", name, msg % args if args else msg, fields)
    except (TypeError, ValueError, KeyError):
        return None
    return orjson.dumps(doc, default=str).decode()


class LoopBatchedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes the lines logged during one turn of the event loop with one write, at the
    end of that turn (`call_soon`), instead of a write and a flush per line: an access log line per request
    then costs no system call of its own under load, and no line waits longer than the turn it was logged in.
    Lines logged outside the event loop's thread are written at once (after any still pending)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # logging's own contract: report, never raise
            self.handleError(record)
            return
        self.write_line(line)

    def write_line(self, line: str) -> None:
        """Write a formatted line (its terminator included) at the end of the loop's turn, or at once
        outside the event loop's thread."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            if loop is not None and not self._scheduled:
                self._scheduled = True
                loop.call_soon(self.flush)
        if loop is None:
            self.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            lines, self._pending, self._scheduled = self._pending, [], False
            if lines:
                self.stream.write("".join(lines))
            super().flush()


def _direct(logger: logging.Logger) -> LoopBatchedHandler | None:
    """The handler a record of `logger` at INFO would reach, when it is the only one, formats with exactly
    `JsonFormatter`, and no filter stands on the way (on the loggers up the chain or on the handler) and no
    logger on it is disabled: then writing the formatted line to it is all `logging` would do. Otherwise
    None. Read from the configuration on every call (a few attribute reads), so that a filter or a handler
    added at any time is honoured from the next line on."""
    found: LoopBatchedHandler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters or current.disabled:
            return None
        for handler in current.handlers:
            if (
                found is not None
                or type(handler) is not LoopBatchedHandler
                or type(handler.formatter) is not JsonFormatter
                or handler.filters
                or handler.level > logging.INFO
            ):
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


def configure(level: str) -> None:
    """Send the runtime's (and aiohttp's) logs to stderr as JSON."""
    # What a LogRecord would otherwise collect on every call and the JSON lines never show (logging's own
    # documented switches for this).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = LoopBatchedHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
