"""Prometheus metrics of a worker process: jobs by engine and outcome, job duration, and queue lag.

Built on a registry passed in (the default one in the process, a fresh one in tests) and exposed by
`service.py` on `NEUROEDGE_METRICS_PORT`.
"""

from __future__ import annotations

import prometheus_client as prom

DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)


class EngineMetrics:
    """The labelled children of one engine, looked up once (`labels()` costs more than the increment)."""

    def __init__(self, parent: WorkerMetrics, engine: str) -> None:
        self.started = parent.started.labels(engine)
        self.succeeded = parent.succeeded.labels(engine)
        self.failed = parent.failed.labels(engine)
        self.retried = parent.retried.labels(engine)
        self.dead_lettered = parent.dead_lettered.labels(engine)
        self.ok_duration = parent.duration.labels(engine, "succeeded")
        self.failed_duration = parent.duration.labels(engine, "failed")


class WorkerMetrics:
    """The worker's counters, histogram and queue gauges."""

    def __init__(self, registry: prom.CollectorRegistry) -> None:
        def counter(name: str, doc: str) -> prom.Counter:
            return prom.Counter(f"neuroedge_jobs_{name}", doc, ["engine"], registry=registry)

        self.started = counter("started", "Job attempts started.")
        self.succeeded = counter("succeeded", "Jobs that succeeded.")
        self.failed = counter("failed", "Job attempts that raised, timed out or missed their deadline.")
        self.retried = counter("retried", "Failed attempts scheduled for a retry.")
        self.dead_lettered = counter("dead_lettered", "Jobs moved to the dead-letter stream.")
        self.duration = prom.Histogram(
            "neuroedge_job_duration_seconds",
            "Time one job attempt ran, by engine and outcome.",
            ["engine", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.waiting = prom.Gauge(
            "neuroedge_queue_waiting_jobs",
            "Jobs in the stream not yet delivered to a worker.",
            registry=registry,
        )
        self.pending = prom.Gauge(
            "neuroedge_queue_pending_jobs",
            "Jobs delivered to a worker and not yet settled.",
            registry=registry,
        )
        self.delayed = prom.Gauge(
            "neuroedge_queue_delayed_jobs", "Jobs waiting for a retry after a failure.", registry=registry
        )
        self._engines: dict[str, EngineMetrics] = {}
        self.lag = prom.Gauge(
            "neuroedge_queue_lag_seconds",
            "Age of the oldest job not yet delivered to a worker (0 when none waits).",
            registry=registry,
        )

    def engine(self, name: str) -> EngineMetrics:
        """The metrics of engine `name`."""
        found = self._engines.get(name)
        if found is None:
            found = self._engines[name] = EngineMetrics(self, name)
        return found
