"""`neuroedge dev operator`: run the operator in the background against the local dev stack, and optionally
apply a sample Tenant, then the samples that live in its namespace, each waited Ready (what `make up` does).

The operator is recorded in the stack's state, so `neuroedge dev down` stops it with everything else.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from neuroedge_dev import controlplane, procs, stack

# Samples applied, in order, after the Tenant sample is Ready, from the Tenant sample's directory (the pool
# before the Engine that refers to it).
TENANT_SAMPLES = ("vectorindex.yaml", "workerpool.yaml", "engine.yaml")


def start_operator(state_dir: Path, resync_interval: float = 30.0) -> stack.Process:
    """Start (or keep) the operator of the stack under `state_dir`; returns its record."""
    current = stack.load(state_dir.resolve())
    if current is None or "kube-apiserver" not in current.processes:
        raise procs.StackError("the dev stack is not running: run `neuroedge dev up --crds crds` first")
    known = current.processes.get("operator")
    if known is not None and procs.is_alive(known.pid):
        return known
    metrics_port, health_port = procs.free_port(), procs.free_port()
    env = {
        **os.environ,
        "KUBECONFIG": current.kubeconfig,
        "NEUROEDGE_DATABASE_URL": current.database_url,
        "NEUROEDGE_REDIS_URL": current.redis_url,
        "NEUROEDGE_METRICS_PORT": str(metrics_port),
        "NEUROEDGE_HEALTH_PORT": str(health_port),
        "NEUROEDGE_RESYNC_INTERVAL": str(resync_interval),
        # Leader election as in a cluster (the Lease `neuroedge-operator` in `default`): one dev operator
        # leads at once, and a second one started by hand waits as a standby instead of fighting it.
        "NEUROEDGE_LEADER_ELECTION": "true",
        "POD_NAME": f"neuroedge-dev-operator-{os.getpid()}",
        "POD_NAMESPACE": "default",
    }
    log = Path(current.state_dir) / "logs" / "operator.log"
    pid = procs.spawn([str(Path(sys.executable).parent / "neuroedge-operator")], log, env=env)
    procs.wait_until(
        "operator",
        lambda: procs.http_ok(f"http://127.0.0.1:{health_port}/healthz"),
        timeout=60,
        pid=pid,
        log=log,
    )
    stack.add_process(current, "operator", pid, metrics_port, log)
    return current.processes["operator"]


def apply_and_wait(state_dir: Path, manifest: Path, timeout: int = 120) -> float:
    """Apply a manifest and wait for its objects' `Ready` condition; returns the seconds it took."""
    current = stack.load(state_dir.resolve())
    if current is None:
        raise procs.StackError("the dev stack is not running")
    kubeconfig = Path(current.kubeconfig)
    started = time.monotonic()
    controlplane.kubectl(kubeconfig, "apply", "-f", str(manifest))
    controlplane.kubectl(
        kubeconfig, "wait", "--for=condition=Ready", "-f", str(manifest), f"--timeout={timeout}s"
    )
    return time.monotonic() - started


def apply_samples(state_dir: Path, tenant_manifest: Path, timeout: int = 120) -> list[tuple[Path, float]]:
    """The Tenant sample, then the TENANT_SAMPLES beside it, each applied and waited Ready in turn."""
    manifests = [tenant_manifest, *(tenant_manifest.parent / name for name in TENANT_SAMPLES)]
    return [(m, apply_and_wait(state_dir, m, timeout)) for m in manifests if m.exists()]
