"""Structured JSON logs: one object per line, with the request id when there is one and the trace and span
ids when a span is active (tracing on)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
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


class JsonFormatter(logging.Formatter):
    """Formats records as JSON; extra fields passed as `extra={"fields": {...}}` are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
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
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def emit(logger: logging.Logger, msg: str, args: tuple[Any, ...], fields: dict[str, Any]) -> None:
    """Log `msg % args` at INFO with `fields`, without what `logger.info` adds per call: the source file and
    line (a walk up the stack per record) are of no use in an access log written once per request."""
    if logger.isEnabledFor(logging.INFO):
        logger.handle(
            logger.makeRecord(logger.name, logging.INFO, "", 0, msg, args, None, extra={"fields": fields})
        )


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
