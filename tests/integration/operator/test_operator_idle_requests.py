"""An idle operator's API requests do not grow with the number of objects: with 100 Tenants, 20
WorkerPools and 20 Engines that run jobs on them Ready, and a resync every 10 s (six passes over each object
a minute), one operator replica makes at most 60 non-watch requests a minute, its Lease renewals included;
it reads children (a pool's Deployment, ReplicaSets and pods too) and an Engine's pool from watch caches,
and writes nothing but its Lease. Its requests are
counted by a proxy in front of the API server (only this process's)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import operator_helpers
import pytest
import tenant_operator_process as operator_process
from kube_counting_proxy import CountingProxy
from operator_helpers import kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

TENANTS = 100
POOLS = 20
LABEL = "neuroedge.io/test-idle"
WINDOW = 60.0
GOAL = 60


def tenants_list() -> str:
    items = [
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": f"idle-{i:03d}", "labels": {LABEL: "yes"}},
            "spec": {"namespaces": [f"idle-{i:03d}"], "database": {"reclaimPolicy": "Delete"}},
        }
        for i in range(TENANTS)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def pools_list() -> str:
    items = [
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "WorkerPool",
            "metadata": {"name": "general", "namespace": f"idle-{i:03d}", "labels": {LABEL: "yes"}},
            "spec": {"replicas": 1},
        }
        for i in range(POOLS)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def engines_list() -> str:
    items = [
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "Engine",
            "metadata": {"name": "reports", "namespace": f"idle-{i:03d}", "labels": {LABEL: "yes"}},
            "spec": {"type": "analytics", "workerPoolRef": {"name": "general"}},
        }
        for i in range(POOLS)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def ready_count(kubeconfig: Path, kind: str = "tenants") -> int:
    listed = json.loads(kubectl(kubeconfig, "get", kind, "-A", "-l", LABEL, "-o", "json"))["items"]
    return sum(
        any(c["type"] == "Ready" and c["status"] == "True" for c in t.get("status", {}).get("conditions", []))
        and t["status"].get("observedGeneration") == t["metadata"]["generation"]
        for t in listed
    )


@pytest.fixture(scope="module")
def proxy(kubeconfig: Path) -> CountingProxy:
    return CountingProxy(kubeconfig)


@pytest.fixture(scope="module")
def idle_operator(
    kubeconfig: Path,
    database_url: str,
    redis_url: str,
    proxy: CountingProxy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[operator_process.OperatorProcess]:
    parts = urlsplit(database_url)
    env = operator_helpers.operator_env(
        proxy.kubeconfig,
        database_url,
        redis_url,
        NEUROEDGE_TENANT_DATABASE_HOST=f"{parts.hostname}:{parts.port}",
        NEUROEDGE_RESYNC_INTERVAL="10",
        NEUROEDGE_LOG_LEVEL="WARNING",
        POD_NAME="idle-operator",
        POD_NAMESPACE="default",
    )
    log = tmp_path_factory.mktemp("idle") / "operator.log"
    with operator_helpers.running_operator(env, log) as proc:
        yield proc
        # Inside the block the operator still runs: its finalizers remove what the objects own.
        kubectl(kubeconfig, "delete", "engines", "-A", "-l", LABEL, "--wait=false")
        kubectl(kubeconfig, "delete", "workerpools", "-A", "-l", LABEL, "--wait=false")
        kubectl(kubeconfig, "delete", "tenants", "-l", LABEL, "--wait=false")
        deadline = time.monotonic() + 300
        while kubectl(kubeconfig, "get", "tenants", "-l", LABEL, "-o", "name").strip():
            if time.monotonic() > deadline:
                break
            time.sleep(2)


def test_idle_requests_do_not_grow_with_100_tenants_20_pools_and_20_engines(
    idle_operator: operator_process.OperatorProcess, proxy: CountingProxy, kubeconfig: Path
) -> None:
    started = time.monotonic()
    kubectl(kubeconfig, "apply", "-f", "-", input_text=tenants_list())
    deadline = started + 600
    while ready_count(kubeconfig) < TENANTS:
        assert time.monotonic() < deadline, idle_operator.log_tail()
        time.sleep(2)
    print(f"{TENANTS} tenants Ready in {time.monotonic() - started:.1f}s")
    kubectl(kubeconfig, "apply", "-f", "-", input_text=pools_list())
    while ready_count(kubeconfig, "workerpools") < POOLS:
        assert time.monotonic() < deadline, idle_operator.log_tail()
        time.sleep(2)
    kubectl(kubeconfig, "apply", "-f", "-", input_text=engines_list())
    while ready_count(kubeconfig, "engines") < POOLS:
        assert time.monotonic() < deadline, idle_operator.log_tail()
        time.sleep(2)
    time.sleep(15)  # let the last passes' status writes and their watch echoes settle
    window_start = time.monotonic()
    time.sleep(WINDOW)
    counts = proxy.count(window_start, window_start + WINDOW)
    gets = Counter(path.rsplit("/", 1)[0] for path in proxy.paths(window_start) if "/leases/" not in path)
    per_minute = sum(counts.values()) * 60 / WINDOW
    print(
        f"idle non-watch requests/min, {TENANTS} tenants, {POOLS} pools and engines: {per_minute:.0f}",
        dict(counts),
    )
    print(f"GETs other than the Lease, by collection: {gets.most_common(8)}")
    assert per_minute <= GOAL, (dict(counts), gets.most_common(8))
    writes = {m: n for m, n in counts.items() if m != "GET"}
    assert set(writes) <= {"PUT"}, writes  # the Lease renewals only
