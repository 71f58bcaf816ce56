"""Prometheus metrics of the operator, served on `/metrics` (NEUROEDGE_METRICS_PORT).

The write counters are how we prove that an idle operator writes nothing: every Kubernetes write, SQL
statement and Redis ACL change made by the clients is counted here.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterable, Mapping

import prometheus_client

RECONCILES = prometheus_client.Counter(
    "neuroedge_operator_reconcile_total", "Reconciles by kind and outcome", ["kind", "outcome"]
)
RECONCILE_SECONDS = prometheus_client.Histogram(
    "neuroedge_operator_reconcile_duration_seconds",
    "Reconcile duration by kind and outcome",
    ["kind", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OBJECTS = prometheus_client.Gauge(
    "neuroedge_operator_objects", "Objects by kind, condition and status", ["kind", "condition", "status"]
)
API_WRITES = prometheus_client.Counter(
    "neuroedge_operator_api_writes_total", "Kubernetes API writes by verb and resource", ["verb", "resource"]
)
SQL_STATEMENTS = prometheus_client.Counter(
    "neuroedge_operator_sql_statements_total", "Planned SQL statements executed, by action kind", ["kind"]
)
REDIS_WRITES = prometheus_client.Counter(
    "neuroedge_operator_redis_acl_writes_total", "Redis ACL changes by command", ["command"]
)

LEADER = prometheus_client.Gauge(
    "neuroedge_operator_leader", "1 while this replica holds the operator's Lease and runs the reconcilers"
)
LEASE_WRITES = prometheus_client.Counter(
    "neuroedge_operator_lease_writes_total",
    "Writes of the leader-election Lease by verb (apart from API_WRITES: an idle leader renews its Lease, "
    "and writes nothing else)",
    ["verb"],
)
FENCED_WRITES = prometheus_client.Counter(
    "neuroedge_operator_fenced_writes_total",
    "Writes refused because this replica was not the leader",
    ["target"],
)
LEADER_TRANSITIONS = prometheus_client.Counter(
    "neuroedge_operator_leader_transitions_total",
    "Times this replica became or stopped being the leader",
    ["to"],
)

VECTOR_ACTIONS = prometheus_client.Counter(
    "neuroedge_operator_vector_actions_total",
    "VectorIndex storage actions by backend and kind",
    ["backend", "kind"],
)
WORKLOAD_REPLICAS = prometheus_client.Gauge(
    "neuroedge_operator_workload_replicas",
    "Replicas an Engine's or WorkerPool's Deployment reports, by kind, namespace and name",
    ["kind", "namespace", "name"],
)
WORKLOAD_MAX_REPLICAS = prometheus_client.Gauge(
    "neuroedge_operator_workload_max_replicas",
    "Replicas an Engine or WorkerPool may scale to (a WorkerPool's maxReplicas), by kind, namespace, name",
    ["kind", "namespace", "name"],
)


class ConditionCensus:
    """The last known conditions of every object, exported as `neuroedge_operator_objects`."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._known: dict[str, Mapping[str, str]] = {}
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        """(condition type, status) -> objects: kept as objects change, so a record costs the same however
        many objects there are (recounting every object on each record was quadratic in a resync pass)."""

    @property
    def kind(self) -> str:
        return self._kind

    def record(self, name: str, conditions: Iterable[Mapping[str, object]]) -> None:
        self._count(self._known.get(name, {}), -1)
        self._known[name] = {str(c["type"]): str(c["status"]) for c in conditions}
        self._count(self._known[name], +1)
        self._export()

    def forget(self, name: str) -> None:
        self._count(self._known.pop(name, {}), -1)
        self._export()
        namespace, _, short = name.rpartition("/")
        for gauge in (WORKLOAD_REPLICAS, WORKLOAD_MAX_REPLICAS):
            with contextlib.suppress(KeyError):
                gauge.remove(self._kind, namespace, short)

    def record_replicas(self, name: str, replicas: int, maximum: int) -> None:
        """Export what the workload runs and may scale to (the "pool at max replicas" alert compares them);
        `name` is `namespace/name` like the conditions' key."""
        namespace, _, short = name.rpartition("/")
        WORKLOAD_REPLICAS.labels(self._kind, namespace, short).set(replicas)
        WORKLOAD_MAX_REPLICAS.labels(self._kind, namespace, short).set(maximum)

    def _count(self, conditions: Mapping[str, str], step: int) -> None:
        for kind, status in conditions.items():
            self._counts[(kind, status)] += step

    def _export(self) -> None:
        counts = self._counts
        for status in ("True", "False", "Unknown"):
            for kind in {k for k, _ in counts} | {"Ready"}:
                OBJECTS.labels(self._kind, kind, status).set(counts.get((kind, status), 0))
