"""Operator failover: how long the cluster is without a leading operator when the leader dies (SIGKILL) or
is stopped (SIGTERM, as in a rolling update), with the production lease periods (15 s lease, 10 s renew
deadline, 2 s retry).

Two real operator replicas (`neuroedge_dev.replicas.Pair`, the failover tests' harness) run against the
stack; the leader is signalled, then a Tenant is changed at once. Figures, medians of a few trials: seconds
until the standby holds the Lease, and until it has reconciled the change (the Tenant Ready at its new
generation and its quota updated). Baseline: the lease duration, the bound of a SIGKILL takeover (a SIGTERM
hands over at once, since the leader clears the holder on its way out).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from neuroedge_dev import controlplane, procs, replicas
from neuroedge_dev import stack as dev_stack

TIMINGS = replicas.LeaseTimings(duration=15.0, renew_deadline=10.0, retry_period=2.0)
TRIALS = 3
TENANT = "failover-bench"


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None) -> str:
    return controlplane.kubectl(kubeconfig, *args, input_text=input_text)


def apply_tenant(kubeconfig: Path, pods: int) -> None:
    body = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": TENANT},
        "spec": {"namespaces": [TENANT], "quota": {"cpu": "2", "memory": "2Gi", "pods": pods}},
    }
    kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(body))


def reconciled(kubeconfig: Path, pods: int) -> bool:
    tenant = json.loads(kubectl(kubeconfig, "get", "tenant", TENANT, "-o", "json"))
    status = tenant.get("status", {})
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    if not ready or status.get("observedGeneration") != tenant["metadata"]["generation"]:
        return False
    quota = json.loads(
        controlplane.kubectl(
            kubeconfig, "get", "resourcequota", "neuroedge-quota", "-n", TENANT, "-o", "json", check=False
        )
        or "{}"
    )
    return str(quota.get("spec", {}).get("hard", {}).get("pods")) == str(pods)


def wait_reconciled(kubeconfig: Path, pods: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not reconciled(kubeconfig, pods):
        if time.monotonic() > deadline:
            raise SystemExit(f"{TENANT} not reconciled with {pods} pods within {timeout}s")
        time.sleep(0.1)


def trial(pair: replicas.Pair, signum: int, pods: int) -> tuple[float, float]:
    """(seconds until the standby holds the Lease, seconds until it reconciled the change) after `signum`."""
    pair.start()
    try:
        apply_tenant(pair.kubeconfig, pods)
        wait_reconciled(pair.kubeconfig, pods, 120)
        signalled = time.monotonic()
        pair.a.send(signum)
        apply_tenant(pair.kubeconfig, pods + 1)
        pair.wait_holder("ha-b", TIMINGS.duration + 15)
        took_over = time.monotonic() - signalled
        wait_reconciled(pair.kubeconfig, pods + 1, 120)
        return took_over, time.monotonic() - signalled
    finally:
        pair.stop()


def stop_stack_operator(state_dir: Path) -> None:
    """The stack's own operator (started by another script) would contend for the Lease: stop it (a later
    script's `local.start_operator` starts a fresh one)."""
    running = dev_stack.load(state_dir)
    known = running.processes.get("operator") if running is not None else None
    if known is not None and procs.is_alive(known.pid):
        procs.stop(known.pid)


def result(name: str, value: float, unit: str, baseline_name: str, baseline: float) -> None:
    row = {"name": name, "value": round(value, 2), "unit": unit}
    print(json.dumps({**row, "baseline_name": baseline_name, "baseline_value": baseline}), flush=True)


def main() -> int:
    state_dir = Path(os.environ["NEUROEDGE_STATE_DIR"])
    running = dev_stack.load(state_dir)
    assert running is not None
    kubeconfig = Path(running.kubeconfig)
    stop_stack_operator(state_dir)
    parts = urlsplit(running.database_url)
    env = {
        "NEUROEDGE_DATABASE_URL": running.database_url,
        "NEUROEDGE_REDIS_URL": running.redis_url,
        "NEUROEDGE_TENANT_DATABASE_HOST": f"{parts.hostname}:{parts.port}",
        "NEUROEDGE_LOG_LEVEL": "INFO",
    }
    logs = Path(tempfile.mkdtemp(prefix="failover-", dir=state_dir))
    pair = replicas.Pair(kubeconfig, env, TIMINGS, logs)
    figures: dict[str, list[tuple[float, float]]] = {"sigkill": [], "sigterm": []}
    pods = 10  # each trial's change is a new quota, so that its reconcile can be seen
    for number in range(TRIALS):
        for name, signum in (("sigkill", signal.SIGKILL), ("sigterm", signal.SIGTERM)):
            leader, change = trial(pair, signum, pods)
            pods += 2
            figures[name].append((leader, change))
            print(f"{name} trial {number + 1}: leader in {leader:.2f}s, change reconciled in {change:.2f}s")
    kubectl(kubeconfig, "delete", "tenant", TENANT, "--wait=false")
    for name, trials in figures.items():
        lease = TIMINGS.duration
        takeovers, reconciles = [t for t, _ in trials], [r for _, r in trials]
        result(
            f"operator_failover_{name}_seconds",
            statistics.median(takeovers),
            "s",
            "lease_duration_seconds",
            lease,
        )
        result(
            f"operator_failover_{name}_reconciled_seconds",
            statistics.median(reconciles),
            "s",
            "lease_duration_seconds",
            lease,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
