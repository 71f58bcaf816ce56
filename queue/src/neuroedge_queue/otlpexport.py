"""The OTLP/HTTP span exporter NeuroEdge processes use: the SDK's (every OTEL_EXPORTER_OTLP_* setting, its
retries, its own metrics), with spans encoded by `otlpencoding` instead of through protobuf message objects.
Imports the SDK and the exporter: loaded only when tracing is on.

It overrides `export` and so relies on the SDK exporter's attributes (`_client`, `_metrics`,
`_max_request_size`, `_shutdown`); a unit test exports through it, so an SDK that renames them fails there,
not in production.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from neuroedge_queue import otlpencoding

log = logging.getLogger(__name__)


class OTLPSpanExporter(trace_exporter.OTLPSpanExporter):
    """`OTLPSpanExporter` with the cheaper encoding (same bytes on the wire)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return super().export(spans)  # warns and fails, as the SDK's does
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
