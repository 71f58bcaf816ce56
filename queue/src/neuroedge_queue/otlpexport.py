"""The OTLP/HTTP span exporter NeuroEdge processes use: the SDK's (every OTEL_EXPORTER_OTLP_* setting, its
retries, its own metrics), with spans encoded by `otlpencoding` instead of through protobuf message objects;
and the batch span processor that feeds it spans encoded when they end. Imports the SDK and the exporter:
loaded only when tracing is on.

It overrides `export` and so relies on the SDK exporter's attributes (`_client`, `_metrics`,
`_max_request_size`, `_shutdown`); a unit test exports through it, so an SDK that renames them fails there,
not in production.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.sdk.trace import ReadableSpan, export
from opentelemetry.sdk.trace.export import SpanExportResult

from neuroedge_queue import otlpencoding

log = logging.getLogger(__name__)


class OTLPSpanExporter(trace_exporter.OTLPSpanExporter):
    """`OTLPSpanExporter` with the cheaper encoding (same bytes on the wire)."""

    def export(self, spans: Sequence[ReadableSpan | otlpencoding.EncodedSpan]) -> SpanExportResult:
        """Send `spans` (finished spans, or spans `EncodingSpanProcessor` encoded when they ended)."""
        if self._shutdown:
            return super().export([])  # warns and fails, as the SDK's does
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = otlpencoding.encode(spans)
            except Exception as error:  # a span the encoder cannot write: drop the batch, not the thread
                log.error("failed to encode a batch of %d spans: %s", len(spans), error)
                result.error = error
                return SpanExportResult.FAILURE
            if 0 < self._max_request_size < len(data):
                log.warning(
                    "dropping a batch of %d spans: %d bytes exceed the %d bytes limit",
                    len(spans),
                    len(data),
                    self._max_request_size,
                )
                result.error = ValueError(f"span batch of {len(data)} bytes is too large")
                return SpanExportResult.FAILURE
            sent = self._client.export(data)
            if not sent.success:
                result.error = sent.error
                if sent.status_code is not None:
                    result.error_attrs = {"http.response.status_code": sent.status_code}
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS


class EncodingSpanProcessor(export.BatchSpanProcessor):
    """The SDK's batch span processor (its queue, worker thread, OTEL_BSP_* settings, flush and shutdown) that
    queues each finished span as its encoded message (`otlpencoding.encoded`) instead of the span, for an
    `OTLPSpanExporter`.

    Why: a queued SDK span is some twenty objects (the span, its attribute mapping, event and link lists,
    their locks, its context) that live until the next batch leaves, up to the schedule delay; under load they
    outlive the young generations and every full collection walks them. Queued as bytes, they are freed the
    moment the span ends, and the exporter thread, which holds the GIL while it encodes, only joins them."""

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return
        try:
            item = otlpencoding.encoded(span)
        except Exception as error:  # a span the encoder cannot write: drop it, not the request that ended it
            log.error("failed to encode span %r: %s", span.name, error)
            return
        self.queue(item)

    def queue(self, item: otlpencoding.EncodedSpan) -> None:
        """Queue a span encoded already (`recordedspans.RecordedSpan.end`, or `on_end`)."""
        self._batch_processor.emit(item)  # type: ignore[arg-type]  # exported by OTLPSpanExporter only
