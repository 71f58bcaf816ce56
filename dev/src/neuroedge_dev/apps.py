"""`make up` from start to finish: the stack, the CRDs, the operator, the samples Ready, then the product's
own processes: the runtime API and one job worker per sample WorkerPool.

The order matters: the runtime and the workers log in with what the operator provisioned (the tenant's
credentials Secret, its Redis ACL user, the migrated schema), so they start last. Every step keeps what is
already running, so a second `make up` changes nothing and a dead API or worker is started again; all of
them are recorded in the stack, so `neuroedge dev down` stops them.

What the local processes get:
- the API: a PostgreSQL login role `neuroedge_runtime_dev` that is a member of `neuroedge_runtime` (subject to
  row-level security like the cluster's runtime), its password generated into `<state>/secrets/`; the stack's
  Redis (rate limits span tenants); every tenant's credentials Secret materialised as
  `<state>/credentials/<tenant>/<KEY>` files (mode 0600), the layout of the Secret mounted in a pod, kept in
  step with the cluster by the `credentials-sync` process (secret_sync.py): a Tenant applied while the stack
  is up can log in within seconds, a deleted one cannot; and `NEUROEDGE_POOL`, the sample Engine's
  `workerPoolRef`, for `/engine/run`. Nothing is granted per tenant: the login role is a member of
  `neuroedge_runtime`, which the operator grants every tenant table (row-level security keeps them apart);
- each worker: its tenant's own `REDIS_URL` from that Secret (the ACL user confined to `ne:<tenant>:*`), and
  the API's database login with `NEUROEDGE_WORKER_VECTORS=1` (ingestion jobs, conversations over an index,
  LLM agents), as the WorkerPool builder gives a cluster's workers.

Last, the sample knowledge bases are filled: `<index>.documents.json` beside the samples is ingested into
that VectorIndex through the API (sample_ingest.py), and `up` waits for the chunks to be stored.

Workers are started for the sample WorkerPools whether or not their resources are Ready: the queue needs no
Kubernetes object, only Redis.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from neuroedge_dev import (
    controlplane,
    local,
    procs,
    sample_ingest,
    secret_sync,
    stack,
    tenant_files,
    workers,
)
from neuroedge_operator.db import migrate

API = "runtime-api"
SYNC = "credentials-sync"
RUNTIME_LOGIN = "neuroedge_runtime_dev"
PASSWORD_FILE = "runtime-db-password"  # noqa: S105 - a file name


@dataclass
class Report:
    """What `up` did, for the person running it."""

    samples: list[tuple[Path, float]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    ingested: list[tuple[str, int]] = field(default_factory=list)
    """(VectorIndex, chunks stored) of the sample knowledge bases filled by this `up`."""
    runtime_url: str = ""


def up(state_dir: Path, crds_dir: Path | None, tenant_sample: Path, base_env: Mapping[str, str]) -> Report:
    """Stack -> CRDs -> operator -> samples Ready -> runtime API and sample workers."""
    running = stack.up(state_dir, crds_dir=crds_dir)
    report = Report()
    before = running.processes.get("operator")
    operator = local.start_operator(state_dir)
    if before is None or operator.pid != before.pid:
        report.started.append("operator")
    report.samples = local.apply_samples(state_dir, tenant_sample)
    running = _reload(state_dir)
    manifests = workers.load_manifests(tenant_sample.parent)
    start_apps(running, manifests, base_env, report)
    report.runtime_url = running.runtime_url
    tenants = sample_tenants(manifests)
    for job in sample_ingest.plan(tenant_sample.parent, manifests, tenants):
        credentials = read_credentials(Path(running.kubeconfig), job.namespace)
        report.ingested.append((job.index, sample_ingest.ingest(running.runtime_url, job, credentials)))
    return report


def start_apps(
    running: stack.Stack, manifests: list[Mapping[str, Any]], base_env: Mapping[str, str], report: Report
) -> None:
    """The runtime API and the workers of the sample pools (the samples must have been applied)."""
    tenants = sample_tenants(manifests)
    credentials_dir = Path(running.state_dir) / "credentials"
    redis_urls = {
        tenant: read_credentials(Path(running.kubeconfig), namespace)["REDIS_URL"]
        for tenant, namespace in tenants.items()
    }
    if start_secret_sync(running, credentials_dir):  # the samples' files are written before it is ready
        report.started.append(SYNC)
    database_url = runtime_database_url(running)
    planned = workers.plan(manifests, redis_urls, database_url)
    api_env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": running.redis_url,
        "NEUROEDGE_CREDENTIALS_DIR": str(credentials_dir),
        "NEUROEDGE_RUNTIME_HOST": "127.0.0.1",
        # Engines' models: downloads in the state directory; pvc:// and configmap:// models are read from
        # <state>/models/<scheme>/<volume>/... (there are no volumes to mount outside a cluster).
        "NEUROEDGE_MODEL_CACHE_DIR": str(Path(running.state_dir) / "model-cache"),
        "NEUROEDGE_MODEL_MOUNT_DIR": str(Path(running.state_dir) / "models"),
    }
    pool = engine_pool(manifests) or next((w.env["NEUROEDGE_POOL"] for w in planned), None)
    if pool:
        api_env["NEUROEDGE_POOL"] = pool
    if start_api(running, {**base_env, **api_env}):
        report.started.append(API)
    report.stopped = stop_unplanned_workers(running, {w.name for w in planned})
    report.started += workers.start(running, planned, base_env)


def _reload(state_dir: Path) -> stack.Stack:
    current = stack.load(state_dir.resolve())
    if current is None:
        raise procs.StackError("the dev stack's state disappeared while starting it")
    return current


def sample_tenants(manifests: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Tenant name -> the namespace holding its credentials Secret (its first namespace), of the samples."""
    found = {}
    for doc in manifests:
        namespaces = (doc.get("spec") or {}).get("namespaces") or []
        if doc.get("kind") == "Tenant" and namespaces:
            found[str(doc["metadata"]["name"])] = str(namespaces[0])
    return found


def engine_pool(manifests: Iterable[Mapping[str, Any]]) -> str | None:
    """The `workerPoolRef` of the first sample Engine that has one: where the local API sends jobs."""
    for doc in manifests:
        ref = (doc.get("spec") or {}).get("workerPoolRef") if doc.get("kind") == "Engine" else None
        if isinstance(ref, Mapping) and ref.get("name"):
            return str(ref["name"])
    return None


def read_credentials(kubeconfig: Path, namespace: str) -> dict[str, str]:
    """The decoded data of the tenant's credentials Secret in `namespace`."""
    raw = controlplane.kubectl(
        kubeconfig, "get", "secret", tenant_files.SECRET_NAME, "-n", namespace, "-o", "json"
    )
    data = json.loads(raw).get("data") or {}
    values = {key: base64.b64decode(value).decode() for key, value in data.items()}
    if "REDIS_URL" not in values:
        raise procs.StackError(f"secret {namespace}/{tenant_files.SECRET_NAME} has no REDIS_URL")
    return values


def start_secret_sync(running: stack.Stack, credentials_dir: Path) -> bool:
    """Start the loop that mirrors every tenant's credentials Secret into `credentials_dir`, unless it runs;
    waits for its first full sync. True when it was started."""
    known = running.processes.get(SYNC)
    if known is not None and procs.is_alive(known.pid):
        return False
    log = Path(running.state_dir) / "logs" / f"{SYNC}.log"
    offset = log.stat().st_size if log.exists() else 0  # the log is appended to: look only at this run's
    command = [sys.executable, "-m", "neuroedge_dev.secret_sync", "--kubeconfig", running.kubeconfig]
    pid = procs.spawn([*command, "--dir", str(credentials_dir)], log)
    procs.wait_until(
        "credentials sync",
        lambda: _logged_since(log, offset, secret_sync.READY_LINE),
        timeout=60,
        pid=pid,
        log=log,
    )
    stack.add_process(running, SYNC, pid, 0, log)
    return True


def _logged_since(log: Path, offset: int, line: str) -> bool:
    with log.open("rb") as f:
        f.seek(offset)
        return line.encode() in f.read()


def runtime_database_url(running: stack.Stack) -> str:
    """DSN of the runtime's login role, created (or its password reset) with the stack's superuser."""
    password_file = Path(running.state_dir) / "secrets" / PASSWORD_FILE
    if not password_file.exists():
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.touch(mode=0o600)
        password_file.write_text(secrets.token_urlsafe(24))
    password = password_file.read_text().strip()
    asyncio.run(_ensure_runtime_login(running.database_url, password))
    parts = urlsplit(running.database_url)
    netloc = f"{RUNTIME_LOGIN}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


async def _ensure_runtime_login(admin_url: str, password: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await migrate.migrate(conn)  # the operator has done it already; idempotent, under a lock
        await conn.execute(
            f"DO $$ BEGIN CREATE ROLE {RUNTIME_LOGIN} LOGIN NOBYPASSRLS IN ROLE neuroedge_runtime; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        )
        statement = await conn.fetchval(
            "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", RUNTIME_LOGIN, password
        )
        await conn.execute(statement)
    finally:
        await conn.close()


def start_api(running: stack.Stack, env: Mapping[str, str]) -> bool:
    """Start the runtime API unless it runs; record it and RUNTIME_URL. True when it was started."""
    known = running.processes.get(API)
    if known is not None and procs.is_alive(known.pid):
        if running.runtime_url != _url(known.port):
            running.runtime_url = _url(known.port)
            stack.save(running)
        return False
    # A restarted API keeps its port (and RUNTIME_URL) unless something else took it meanwhile.
    port = known.port if known is not None and not procs.port_open(known.port) else procs.free_port()
    log = Path(running.state_dir) / "logs" / f"{API}.log"
    command = [str(Path(sys.executable).parent / "neuroedge-runtime"), "api"]
    pid = procs.spawn(command, log, env={**env, "NEUROEDGE_RUNTIME_PORT": str(port)})
    url = _url(port)
    procs.wait_until("runtime API", lambda: procs.http_ok(f"{url}/ready"), timeout=60, pid=pid, log=log)
    running.runtime_url = url
    stack.add_process(running, API, pid, port, log)
    return True


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def stop_unplanned_workers(running: stack.Stack, planned: set[str]) -> list[str]:
    """Stop recorded workers of pools that are no longer among the samples."""
    stopped = []
    for name in [n for n in running.processes if n.startswith(workers.PROCESS_PREFIX) and n not in planned]:
        process = stack.forget_process(running, name)
        if process is not None and procs.is_alive(process.pid):
            procs.stop(process.pid)
        stopped.append(name)
    return stopped
