"""With no OTEL_* variable a runtime process installs nothing for tracing: the API's request path does not
import the tracing module and has no tracing step, no SDK, exporter or instrumentation is imported, no
thread is started, and an enqueued job carries no trace context."""

from __future__ import annotations

import subprocess
import sys
import textwrap

OFF_PROCESS = textwrap.dedent(
    """
    import os, sys, threading
    from neuroedge_runtime import app, requestpath, server
    assert "neuroedge_runtime.tracing" not in sys.modules  # the request path does not even import it
    assert app._request_spans() is None
    from neuroedge_runtime import cli, tracing
    from neuroedge_runtime.queue import service, worker
    from neuroedge_queue import producer, telemetry, tracecontext
    assert tracing.install(telemetry.Settings.from_env(os.environ, "svc")) is None
    assert telemetry.start_provider(telemetry.Settings.from_env(os.environ, "svc")) is None
    assert not tracecontext.active()
    assert [t.name for t in threading.enumerate()] == ["MainThread"], threading.enumerate()
    traced = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation")
    assert not [m for m in sys.modules if m.startswith(traced)]
    with tracecontext.enqueue_span("q", "echo"):
        keys, args = producer.Producer(None, producer.keys.QueueKeys("t", "p"), 60).call_for(
            producer.JobRequest("echo", {"x": 1}), 1.0
        )
    assert b"traceparent" not in args[1], args[1]
    print("off")
    """
)


def test_a_process_without_otel_settings_installs_nothing_and_starts_no_thread() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", OFF_PROCESS], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "off"
