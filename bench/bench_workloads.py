"""Engine and WorkerPool reconciler figures: apply -> Ready for a WorkerPool and an Engine, and a backlog
spike -> the autoscaled replica count Ready.

Run by `make bench` (bench/run.py) against a fresh stack (kwok runs the pods); the operator is started (or
reused) through `neuroedge dev operator` machinery with its default timer intervals (autoscale every 15 s).
Baselines, measured in the same run on the same cluster: a plain Deployment of one restricted pod applied
and waited Available (for apply -> Ready), and the same Deployment scaled 1 -> N by `kubectl scale` and
waited Available (for the spike -> scaled figure, which adds reading the queue and deciding).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from neuroedge_dev import controlplane, local
from neuroedge_queue import keys, producer

TENANT = "bench-wl"
SPIKE_JOBS, TARGET_LAG, MAX_REPLICAS = 100, 20, 5


def kubectl(*args: str, input_text: str | None = None) -> str:
    return controlplane.kubectl(Path(os.environ["KUBECONFIG"]), *args, input_text=input_text)


def result(name: str, value: float, unit: str, baseline_name: str, baseline: float) -> None:
    row = {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline_name": baseline_name,
        "baseline_value": round(baseline, 4),
    }
    print(json.dumps(row), flush=True)


def custom(kind: str, name: str, spec: dict[str, Any]) -> str:
    body = {"apiVersion": "neuroedge.io/v1alpha1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    body["metadata"]["namespace"] = TENANT
    return json.dumps(body)


def plain_deployment() -> str:
    """One restricted pod, like ours but without an operator in between."""
    labels = {"app": "bench-plain"}
    security = {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {"name": "c", "image": "neuroedge/runtime:bench", "securityContext": security}
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "bench-plain", "namespace": TENANT},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }
    return json.dumps(body)


def timed(*steps: tuple[str, ...], input_text: str | None = None) -> float:
    started = time.monotonic()
    for index, step in enumerate(steps):
        kubectl(*step, input_text=input_text if index == 0 else None)
    return time.monotonic() - started


def wait_ready(what: str) -> tuple[str, ...]:
    return ("wait", "--for=condition=Ready", what, "-n", TENANT, "--timeout=180s")


def ready_replicas(pool: str) -> int:
    body = json.loads(kubectl("get", "deployment", f"workerpool-{pool}", "-n", TENANT, "-o", "json"))
    return int(body.get("status", {}).get("readyReplicas") or 0)


async def spike(pool: str) -> float:
    """Enqueue SPIKE_JOBS at once; seconds until the pool's Deployment has the decided replicas Ready."""
    client = aioredis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        queue = producer.Producer(client, keys.QueueKeys(TENANT, pool), 3600)
        started = time.monotonic()
        await queue.enqueue_many([producer.JobRequest(engine="bench", input=i) for i in range(SPIKE_JOBS)])
        wanted = min(MAX_REPLICAS, -(-SPIKE_JOBS // TARGET_LAG))
        while ready_replicas(pool) < wanted:
            if time.monotonic() - started > 180:
                raise RuntimeError(f"pool did not reach {wanted} ready replicas in 180 s")
            await asyncio.sleep(0.2)
        return time.monotonic() - started
    finally:
        await client.aclose()


def main() -> int:
    local.start_operator(Path(os.environ["NEUROEDGE_STATE_DIR"]), resync_interval=30)
    tenant = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": TENANT},
        "spec": {},
    }
    kubectl("apply", "-f", "-", input_text=json.dumps(tenant))
    kubectl("wait", "--for=condition=Ready", f"tenant/{TENANT}", "--timeout=120s")

    available = (
        "wait",
        "--for=condition=Available",
        "deployment/bench-plain",
        "-n",
        TENANT,
        "--timeout=180s",
    )
    plain = timed(("apply", "-f", "-"), available, input_text=plain_deployment())
    pool_spec = {"replicas": 1, "engines": ["bench-engine"]}
    pool = timed(
        ("apply", "-f", "-"),
        wait_ready("workerpool/bench-pool"),
        input_text=custom("WorkerPool", "bench-pool", pool_spec),
    )
    result("workerpool_apply_to_ready", pool, "s", "plain_deployment_apply_to_available", plain)
    engine_spec = {"type": "agent", "replicas": 1, "workerPoolRef": {"name": "bench-pool"}}
    engine = timed(
        ("apply", "-f", "-"),
        wait_ready("engine/bench-engine"),
        input_text=custom("Engine", "bench-engine", engine_spec),
    )
    result("engine_apply_to_ready", engine, "s", "plain_deployment_apply_to_available", plain)

    wanted = min(MAX_REPLICAS, -(-SPIKE_JOBS // TARGET_LAG))
    scale = timed(("scale", "deployment/bench-plain", "-n", TENANT, f"--replicas={wanted}"), available)
    scaling = {"enabled": True, "targetLagPerReplica": TARGET_LAG, "cooldownSeconds": 300}
    auto_spec = {"replicas": 1, "minReplicas": 1, "maxReplicas": MAX_REPLICAS, "autoscaling": scaling}
    kubectl("apply", "-f", "-", input_text=custom("WorkerPool", "bench-auto", auto_spec))
    kubectl(*wait_ready("workerpool/bench-auto"))
    seconds = asyncio.run(spike("bench-auto"))
    print(
        f"backlog spike of {SPIKE_JOBS} jobs -> {wanted} ready workers (autoscale interval: operator default)"
    )
    result(
        "backlog_spike_to_scaled_ready", seconds, "s", "kubectl_scale_plain_deployment_to_available", scale
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
