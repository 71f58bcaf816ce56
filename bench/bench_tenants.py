"""Tenant reconciler figures: apply -> Ready for one tenant and for 100 at once; idle operator writes.

Run by `make bench` (bench/run.py) against a fresh stack; the operator is started here through
`neuroedge dev operator` machinery so that the stack's `down` stops it. Baselines, measured in the same run:
a bare ConfigMap apply round trip (for apply -> Ready), 100 x the single-tenant time (for the batch), and
the API reads the idle operator made in the same minute (for idle writes, whose target is zero).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from neuroedge_dev import controlplane, local

BENCH_RESOURCES = {
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


def kubectl(*args: str, input_text: str | None = None) -> str:
    return controlplane.kubectl(Path(os.environ["KUBECONFIG"]), *args, input_text=input_text)


def tenant(name: str) -> dict[str, object]:
    return {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": {"quota": {"cpu": "4", "memory": "8Gi", "pods": 50}},
    }


def ready_names() -> set[str]:
    items = json.loads(kubectl("get", "tenants", "-o", "json"))["items"]
    return {
        t["metadata"]["name"]
        for t in items
        for c in t.get("status", {}).get("conditions", [])
        if c["type"] == "Ready" and c["status"] == "True"
    }


def apiserver_counts() -> tuple[float, float]:
    """(writes, reads) to the kinds the operator manages, from `apiserver_request_total`."""
    writes = reads = 0.0
    for family in text_string_to_metric_families(kubectl("get", "--raw", "/metrics")):
        for s in family.samples:
            if s.name != "apiserver_request_total" or s.labels.get("resource") not in BENCH_RESOURCES:
                continue
            sub = s.labels.get("subresource", "")
            if sub and not (s.labels["resource"] == "tenants" and sub == "status"):
                continue
            if s.labels.get("verb") in {"POST", "PUT", "PATCH", "DELETE", "APPLY"}:
                writes += s.value
            elif s.labels.get("verb") in {"GET", "LIST"}:
                reads += s.value
    return writes, reads


def operator_writes(port: int) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(
        s.value
        for f in text_string_to_metric_families(body)
        for s in f.samples
        if s.name == "neuroedge_operator_api_writes_total"
    )


def result(name: str, value: float, unit: str, baseline_name: str, baseline: float) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 4),
                "unit": unit,
                "baseline_name": baseline_name,
                "baseline_value": round(baseline, 4),
            }
        ),
        flush=True,
    )


def main() -> int:
    state_dir = Path(os.environ["NEUROEDGE_STATE_DIR"])
    record = local.start_operator(state_dir, resync_interval=30)
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "bench-baseline", "namespace": "default"},
    }
    started = time.monotonic()
    kubectl("apply", "-f", "-", input_text=json.dumps(configmap))
    kubectl("get", "configmap", "bench-baseline", "-n", "default")
    baseline_apply = time.monotonic() - started

    started = time.monotonic()
    kubectl("apply", "-f", "-", input_text=json.dumps(tenant("bench-one")))
    kubectl("wait", "--for=condition=Ready", "tenant/bench-one", "--timeout=120s")
    one = time.monotonic() - started
    result("tenant_apply_to_ready_1", one, "s", "configmap_apply_roundtrip", baseline_apply)

    names = [f"bench-{i:03d}" for i in range(100)]
    batch = {"apiVersion": "v1", "kind": "List", "items": [tenant(n) for n in names]}
    started = time.monotonic()
    kubectl("apply", "-f", "-", input_text=json.dumps(batch))
    deadline = started + 600
    while not set(names) <= ready_names():
        if time.monotonic() > deadline:
            print(f"only {len(set(names) & ready_names())} of 100 tenants Ready after 600s", file=sys.stderr)
            return 1
        time.sleep(0.5)
    hundred = time.monotonic() - started
    result("tenant_apply_to_ready_100_at_once", hundred, "s", "100x_single_tenant", 100 * one)

    time.sleep(35)  # one full resync pass after the batch settled
    writes0, reads0 = apiserver_counts()
    own0 = operator_writes(record.port)
    time.sleep(60)
    writes1, reads1 = apiserver_counts()
    own1 = operator_writes(record.port)
    print(f"operator's own write counter over the idle minute: {own1 - own0:.0f} (101 tenants)")
    result(
        "idle_operator_api_writes_per_minute",
        writes1 - writes0,
        "writes",
        "idle_operator_api_reads_per_minute",
        reads1 - reads0,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
