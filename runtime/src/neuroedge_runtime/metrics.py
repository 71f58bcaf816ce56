"""Prometheus metrics of one app, in a registry of its own (several apps can live in one test process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from neuroedge_runtime import loopmetrics


def _registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@dataclass
class Metrics:
    """Request count and latency by route and status, requests in flight, rate-limit rejections; the same by
    tenant for authenticated requests (tenants are few and named by the platform: a bounded label); and model
    serving: loads by outcome, models loaded, rows per batched run.

    The request series and the in-flight gauge, updated on every request by the request path alone (on the
    event loop's thread), are `loopmetrics` ones, without prometheus_client's per-update locks."""

    registry: CollectorRegistry = field(default_factory=_registry)
    _request_children: dict[tuple[str, str, int], loopmetrics.Timed] = field(
        default_factory=dict, init=False, repr=False
    )
    _tenant_children: dict[tuple[str, str, int], loopmetrics.Timed] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.requests = loopmetrics.Counter(
            "neuroedge_http_requests",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = loopmetrics.Histogram(
            "neuroedge_http_request_duration_seconds",
            "Time to handle an HTTP request",
            ["method", "route", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.in_flight = loopmetrics.Gauge(
            "neuroedge_http_requests_in_flight", "Requests being handled", registry=self.registry
        )
        self.rate_limited = Counter(
            "neuroedge_rate_limit_rejections",
            "Requests rejected by a rate limit",
            ["scope"],
            registry=self.registry,
        )
        self.registry_lookups = Counter(
            "neuroedge_registry_lookups",
            "Registry rows looked up, by table and by where the answer came from (cache or database)",
            ["table", "source"],
            registry=self.registry,
        )
        self.model_loads = Counter(
            "neuroedge_model_loads",
            "Attempts to load a model, by outcome (Loaded or the failure's reason)",
            ["reason"],
            registry=self.registry,
        )
        self.models_loaded = Gauge(
            "neuroedge_models_loaded", "Models loaded in this process", registry=self.registry
        )
        self.models_loaded_bytes = Gauge(
            "neuroedge_models_loaded_bytes",
            "Resident memory charged to the loaded models against NEUROEDGE_MODEL_MEMORY_BYTES",
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "neuroedge_inference_batch_rows",
            "Rows in one dynamically batched model run",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096),
            registry=self.registry,
        )
        self.tenant_requests = loopmetrics.Counter(
            "neuroedge_tenant_requests",
            "Authenticated HTTP requests by tenant, route and status",
            ["tenant", "route", "status"],
            registry=self.registry,
        )
        self.tenant_latency = loopmetrics.Histogram(
            "neuroedge_tenant_request_duration_seconds",
            "Time to handle an authenticated HTTP request, by tenant",
            ["tenant"],
            buckets=(0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.tenant_rate_limited = Counter(
            "neuroedge_tenant_rate_limit_rejections",
            "Requests rejected by a rate limit, by tenant and scope",
            ["tenant", "scope"],
            registry=self.registry,
        )

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count and time one handled request (its label children looked up once per route and status)."""
        series = self._request_children.get((method, route, status))
        if series is None:
            labels = (method, route, str(status))
            series = loopmetrics.Timed(self.requests.labels(*labels), self.latency.labels(*labels))
            self._request_children[(method, route, status)] = series
        series.done(seconds)

    def tenant_request_done(self, tenant: str, route: str, status: int, seconds: float) -> None:
        """Count and time one authenticated request for its tenant (the cache is bounded by tenants x routes x
        statuses, as the series themselves are)."""
        series = self._tenant_children.get((tenant, route, status))
        if series is None:
            series = loopmetrics.Timed(
                self.tenant_requests.labels(tenant, route, str(status)), self.tenant_latency.labels(tenant)
            )
            self._tenant_children[(tenant, route, status)] = series
        series.done(seconds)
