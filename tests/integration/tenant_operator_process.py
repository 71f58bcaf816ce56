"""The operator as a real subprocess (`neuroedge operator`, from `neuroedge_dev.replicas`, which the failover
benchmark uses too), and the API server's count of the writes it made."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from neuroedge_dev import procs, replicas

OperatorProcess = replicas.OperatorProcess
"""Kept under this module's name: many operator tests start their operator through it."""
free_port = procs.free_port


WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE"}
OPERATOR_RESOURCES = {
    "tenants",
    "namespaces",
    "resourcequotas",
    "limitranges",
    "networkpolicies",
    "serviceaccounts",
    "roles",
    "rolebindings",
    "secrets",
    "events",
}


def apiserver_writes(metrics_text: str) -> float:
    """Writes to the kinds the operator manages, from the API server's `apiserver_request_total` (status
    subresources of other kinds, e.g. the quota controller's, are left out)."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name != "apiserver_request_total":
                continue
            labels = sample.labels
            resource, sub = labels.get("resource"), labels.get("subresource", "")
            if labels.get("verb") in WRITE_VERBS and resource in OPERATOR_RESOURCES:
                if sub and not (resource == "tenants" and sub == "status"):
                    continue
                total += sample.value
    return total
