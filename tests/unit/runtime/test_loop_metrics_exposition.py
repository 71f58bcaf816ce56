"""The lock-free request metrics expose exactly what prometheus_client's Counter, Histogram and Gauge expose
for the same updates (names, samples, labels, bucket bounds, formatting; `_created` times aside), so
dashboards, alerts and scrapers cannot tell them apart."""

from __future__ import annotations

import re

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest

from neuroedge_runtime import loopmetrics
from neuroedge_runtime.metrics import Metrics

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
UPDATES = [
    (("GET", "/health", "200"), 0.0004),
    (("GET", "/health", "200"), 0.001),  # exactly on a bound: counted in that bucket
    (("POST", "/engine/predict", "200"), 0.0031),
    (("POST", "/engine/predict", "429"), 12.0),  # beyond the last bound: +Inf only
    (("GET", "/health", "200"), 0.0025),
]


def _without_created(text: str) -> str:
    return re.sub(r"(_created\{[^}]*\}|_created) \S+", r"\1 <t>", text)


def _exposition(counter: object, histogram: object, gauge: object, registry: CollectorRegistry) -> str:
    for labels, seconds in UPDATES:
        counter.labels(*labels).inc()  # type: ignore[attr-defined]
        histogram.labels(*labels).observe(seconds)  # type: ignore[attr-defined]
    gauge.inc()  # type: ignore[attr-defined]
    gauge.inc()  # type: ignore[attr-defined]
    gauge.dec()  # type: ignore[attr-defined]
    return _without_created(generate_latest(registry).decode())


def test_the_exposition_is_prometheus_clients() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    names = ("neuroedge_http_requests", "neuroedge_http_request_duration_seconds", "in_flight")
    labels = ["method", "route", "status"]
    expected = _exposition(
        prometheus_client.Counter(names[0], "doc", labels, registry=theirs),
        prometheus_client.Histogram(names[1], "doc", labels, buckets=BUCKETS, registry=theirs),
        prometheus_client.Gauge(names[2], "doc", registry=theirs),
        theirs,
    )
    got = _exposition(
        loopmetrics.Counter(names[0], "doc", labels, registry=ours),
        loopmetrics.Histogram(names[1], "doc", labels, buckets=BUCKETS, registry=ours),
        loopmetrics.Gauge(names[2], "doc", registry=ours),
        ours,
    )
    assert got == expected
    assert 'le="0.001",method="GET",route="/health",status="200"} 2.0' in got


def test_the_app_metrics_keep_their_names() -> None:
    metrics = Metrics()
    metrics.in_flight.inc()
    metrics.request_done("GET", "/health", 200, 0.002)
    metrics.tenant_request_done("acme", "/engine/predict", 200, 0.02)
    text = generate_latest(metrics.registry).decode()
    assert 'neuroedge_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert (
        'neuroedge_http_request_duration_seconds_count{method="GET",route="/health",status="200"} 1.0' in text
    )
    assert 'neuroedge_tenant_requests_total{route="/engine/predict",status="200",tenant="acme"} 1.0' in text
    assert 'neuroedge_tenant_request_duration_seconds_bucket{le="0.025",tenant="acme"} 1.0' in text
    assert "neuroedge_http_requests_in_flight 1.0" in text
