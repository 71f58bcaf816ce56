"""`make up` runs a local `neuroedge-runtime worker` per sample WorkerPool, so jobs sent to the local API run.

The samples are the manifests in `crds/examples/`: a WorkerPool belongs to the Tenant whose `spec.namespaces`
lists the pool's namespace. Each worker uses its tenant's Redis URL (the ACL user of the tenant's credentials
Secret, as in a cluster; `apps.py` reads the Secrets). `plan` is pure; `start` spawns and records the
processes so that `neuroedge dev down` stops them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from neuroedge_dev import procs, stack

PROCESS_PREFIX = "runtime-worker-"

# WorkerPool spec path -> worker environment variable
_QUEUE_SETTINGS = (
    (("concurrency",), "NEUROEDGE_CONCURRENCY"),
    (("queue", "maxDeliveries"), "NEUROEDGE_MAX_DELIVERIES"),
    (("queue", "claimIdleSeconds"), "NEUROEDGE_CLAIM_IDLE_SECONDS"),
    (("queue", "retryBackoff", "initialSeconds"), "NEUROEDGE_RETRY_BASE_SECONDS"),
    (("queue", "retryBackoff", "maxSeconds"), "NEUROEDGE_RETRY_CAP_SECONDS"),
)


@dataclass(frozen=True)
class LocalWorker:
    """One worker process to run: its process name in the stack and its environment."""

    name: str
    env: dict[str, str]


def _dig(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = body
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def plan(
    manifests: Iterable[Mapping[str, Any]], redis_urls: Mapping[str, str], database_url: str | None = None
) -> list[LocalWorker]:
    """A worker per WorkerPool whose namespace belongs to a Tenant among `manifests` with a Redis URL in
    `redis_urls` (tenant -> URL) (pure). With `database_url` the workers run ingestion jobs and LLM agents
    too (`NEUROEDGE_WORKER_VECTORS=1`, as the WorkerPool builder sets it in a cluster)."""
    docs = [doc for doc in manifests if isinstance(doc, Mapping)]
    tenant_of = {
        namespace: doc["metadata"]["name"]
        for doc in docs
        if doc.get("kind") == "Tenant"
        for namespace in _dig(doc, ("spec", "namespaces")) or []
    }
    planned = []
    for doc in docs:
        namespace = _dig(doc, ("metadata", "namespace"))
        tenant = tenant_of.get(namespace)
        if doc.get("kind") != "WorkerPool" or tenant is None or tenant not in redis_urls:
            continue
        pool = doc["metadata"]["name"]
        env = {
            "REDIS_URL": redis_urls[tenant],
            "NEUROEDGE_TENANT": tenant,
            "NEUROEDGE_POOL": pool,
            "NEUROEDGE_CONSUMER": f"dev-{namespace}-{pool}",
        }
        if database_url:
            env |= {"DATABASE_URL": database_url, "NEUROEDGE_WORKER_VECTORS": "1"}
        for path, variable in _QUEUE_SETTINGS:
            value = _dig(doc.get("spec", {}), path)
            if value is not None:
                env[variable] = str(value)
        planned.append(LocalWorker(f"{PROCESS_PREFIX}{namespace}-{pool}", env))
    return planned


def load_manifests(directory: Path) -> list[Mapping[str, Any]]:
    """Every YAML document of `directory/*.yaml`."""
    found: list[Mapping[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def start(running: stack.Stack, planned: Iterable[LocalWorker], base_env: Mapping[str, str]) -> list[str]:
    """Start the planned workers that are not running (never started, or died); returns the names started."""
    command = Path(sys.executable).parent / "neuroedge-runtime"
    started = []
    for worker in planned:
        current = running.processes.get(worker.name)
        if current is not None and procs.is_alive(current.pid):
            continue
        log = Path(running.state_dir) / "logs" / f"{worker.name}.log"
        pid = procs.spawn([str(command), "worker"], log, env={**base_env, **worker.env})
        stack.add_process(running, worker.name, pid, 0, log)
        started.append(worker.name)
    return started
