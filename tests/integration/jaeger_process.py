"""Jaeger (v2, `cmd/jaeger`, built from the Go module proxy by the dev toolchain) as the real trace backend of
the tracing tests: in-memory storage, the OTLP/HTTP receiver and the HTTP query API on free loopback ports."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tenant_operator_process import free_port

from neuroedge_dev import toolchain

CONFIG = """
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""


class Jaeger:
    """One Jaeger process; `otlp_endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    def __init__(self, workdir: Path) -> None:
        self.otlp_port, self.query_port = free_port(), free_port()
        self._config = workdir / "jaeger.yaml"
        self._config.write_text(
            CONFIG.format(otlp=self.otlp_port, query=self.query_port, query_grpc=free_port())
        )
        self._log = workdir / "jaeger.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def otlp_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.otlp_port}"

    def start(self) -> None:
        binary = toolchain.on_demand(toolchain.JAEGER)
        log = self._log.open("ab")
        self._proc = subprocess.Popen([str(binary), "--config", str(self._config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"jaeger exited with {self._proc.returncode}:\n{self._log.read_text()[-3000:]}"
                )
            try:
                self.query("/api/services")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"jaeger did not answer within 60s:\n{self._log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)

    def query(self, path: str, **params: str | int) -> Any:
        """GET on the query API (`/api/traces`, `/api/services`, ...); its JSON."""
        url = f"http://127.0.0.1:{self.query_port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())

    def traces(
        self, service: str, operation: str = "", tags: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The traces with a span of `service` (Jaeger's JSON model: spans, references, tags, processes), the
        newest 100; with `operation` and `tags`, only those with such a span (Jaeger filters before the limit,
        so traces of other objects cannot crowd the one asked for out)."""
        params: dict[str, str | int] = {"service": service, "limit": 100, "lookback": "1h"}
        if operation:
            params["operation"] = operation
        if tags:
            params["tags"] = json.dumps(tags)
        return list(self.query("/api/traces", **params)["data"] or [])
