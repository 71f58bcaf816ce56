"""Operator scale run (issue 16): N Tenants (default 1,000), each with its namespace, PostgreSQL role and
Redis ACL user, and one WorkerPool in each tenant's namespace, applied at once; then the operator idle.

On demand only (`make scale`, `BENCH_SCALE_TENANTS` to change N): `make bench` skips it, it takes minutes.
Results, each beside a baseline measured in the same run:
- `scale_all_ready_s`: apply -> every Tenant and WorkerPool Ready, beside N x one tenant and its pool.
- `scale_operator_rss_mb`: the operator's resident memory once idle, beside the same before the storm.
- `scale_idle_api_requests_per_minute`: non-watch requests the API server served in an idle minute with the
  operator running, beside a minute of the control plane alone (the operator stopped).
- `scale_pg_roles`, `scale_pg_policies`, `scale_redis_acl_users`: what N tenants leave behind, beside N.
- `scale_pg_catalog_query_ms` (pg_policies read), `scale_redis_acl_list_ms` (ACL LIST): what grows with them,
  beside the server's trivial round trip (SELECT 1, PING).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import redis
from prometheus_client.parser import text_string_to_metric_families

import bench_tenants
from neuroedge_dev import local, procs
from neuroedge_operator.builders import redis_acl, sql

TENANTS = int(os.environ.get("BENCH_SCALE_TENANTS", "1000"))
TIMEOUT = float(os.environ.get("BENCH_SCALE_TIMEOUT", "1800"))
CHUNK = 200
kubectl = bench_tenants.kubectl
result = bench_tenants.result


def pool(namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "WorkerPool",
        "metadata": {"name": "jobs", "namespace": namespace},
        "spec": {"replicas": 1, "maxReplicas": 2, "concurrency": 2},
    }


def apply_all(items: list[dict[str, object]]) -> None:
    for i in range(0, len(items), CHUNK):
        batch = {"apiVersion": "v1", "kind": "List", "items": items[i : i + CHUNK]}
        kubectl("apply", "-f", "-", input_text=json.dumps(batch))


def ready(kind: str) -> set[str]:
    """Names (namespace/name for namespaced kinds) of the `kind` objects whose Ready condition is True."""
    items = json.loads(kubectl("get", kind, "-A", "-o", "json"))["items"]
    return {
        f"{t['metadata'].get('namespace', '')}/{t['metadata']['name']}"
        for t in items
        for c in t.get("status", {}).get("conditions", [])
        if c["type"] == "Ready" and c["status"] == "True"
    }


def existing_namespaces() -> set[str]:
    return set(kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}").split())


def storm(names: list[str]) -> float:
    """Apply the Tenants at once, each WorkerPool as soon as its namespace exists; seconds until all Ready."""
    started = time.monotonic()
    apply_all([bench_tenants.tenant(n) for n in names])
    wanted_tenants = {f"/{n}" for n in names}
    wanted_pools = {f"{n}/jobs" for n in names}
    pending = set(names)
    while True:
        if time.monotonic() - started > TIMEOUT:
            raise TimeoutError(
                f"after {TIMEOUT:.0f}s: {len(wanted_tenants & ready('tenants'))} Tenants and "
                f"{len(wanted_pools & ready('workerpools'))} WorkerPools of {len(names)} Ready"
            )
        if pending:
            created = sorted(pending & existing_namespaces())
            apply_all([pool(n) for n in created])
            pending -= set(created)
        elif wanted_tenants <= ready("tenants") and wanted_pools <= ready("workerpools"):
            return time.monotonic() - started
        time.sleep(2)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def non_watch_requests() -> float:
    """Every request the API server served so far except watches (and the long-running WATCH verbs)."""
    total = 0.0
    for family in text_string_to_metric_families(kubectl("get", "--raw", "/metrics")):
        for s in family.samples:
            if s.name == "apiserver_request_total" and s.labels.get("verb") not in {"WATCH", "WATCHLIST"}:
                total += s.value
    return total


def per_minute(count: Callable[[], float], seconds: float = 60.0) -> float:
    """Requests during `seconds` of doing nothing, per minute (our own two /metrics reads subtracted)."""
    before = count()
    time.sleep(seconds)
    return (count() - before - 1) * 60.0 / seconds


def timed_ms(call: Callable[[], object], repeat: int = 20) -> float:
    """Median milliseconds of `call`."""
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        took.append((time.perf_counter() - started) * 1000)
    return sorted(took)[len(took) // 2]


async def postgres_figures(dsn: str) -> tuple[int, int, float, float]:
    """(tenant roles, tenant policies, median ms of reading pg_policies, median ms of SELECT 1)."""
    conn = await asyncpg.connect(dsn)
    try:
        roles = await conn.fetchval(
            "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1", sql.ROLE_PREFIX.replace("_", r"\_") + "%"
        )
        policies = await conn.fetchval(
            "SELECT count(*) FROM pg_policies WHERE policyname LIKE $1", sql.POLICY_PREFIX + "%"
        )

        async def median(query: str) -> float:
            took = []
            for _ in range(20):
                started = time.perf_counter()
                await conn.fetch(query)
                took.append((time.perf_counter() - started) * 1000)
            return sorted(took)[len(took) // 2]

        catalog = await median("SELECT * FROM pg_policies")
        trivial = await median("SELECT 1")
    finally:
        await conn.close()
    return int(roles), int(policies), catalog, trivial


def main() -> int:
    state_dir = Path(os.environ["NEUROEDGE_STATE_DIR"])
    record = local.start_operator(state_dir, resync_interval=30)
    time.sleep(5)
    rss_before = rss_mb(record.pid)

    started = time.monotonic()
    kubectl("apply", "-f", "-", input_text=json.dumps(bench_tenants.tenant("scale-one")))
    kubectl("wait", "--for=condition=Ready", "tenant/scale-one", "--timeout=120s")
    kubectl("apply", "-f", "-", input_text=json.dumps(pool("scale-one")))
    kubectl("wait", "--for=condition=Ready", "workerpool/jobs", "-n", "scale-one", "--timeout=120s")
    one = time.monotonic() - started

    names = [f"scale-{i:04d}" for i in range(TENANTS)]
    took = storm(names)
    print(f"{TENANTS} Tenants and {TENANTS} WorkerPools Ready in {took:.1f}s", flush=True)
    result("scale_all_ready_s", took, "s", f"{TENANTS}x_one_tenant_and_pool", TENANTS * one)

    time.sleep(40)  # past one resync pass after the storm settled
    result("scale_operator_rss_mb", rss_mb(record.pid), "MB", "operator_rss_before_storm", rss_before)
    with_operator = per_minute(non_watch_requests)

    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    users = [u.decode() if isinstance(u, bytes) else str(u) for u in r.acl_users()]
    acl_users = sum(1 for u in users if u.startswith(redis_acl.USER_PREFIX))
    acl_list = timed_ms(r.acl_list)
    ping = timed_ms(r.ping)
    roles, policies, catalog, trivial = asyncio.run(postgres_figures(os.environ["DATABASE_URL"]))

    os.kill(record.pid, signal.SIGTERM)
    procs.wait_until("operator stopped", lambda: not procs.is_alive(record.pid), timeout=60)
    time.sleep(5)
    alone = per_minute(non_watch_requests)
    result("scale_idle_api_requests_per_minute", with_operator, "req/min", "control_plane_alone", alone)
    print(f"the idle operator's share: {with_operator - alone:.0f} req/min", flush=True)
    result("scale_pg_roles", roles, "roles", "tenants", TENANTS + 1)
    result("scale_pg_policies", policies, "policies", "tenants", TENANTS + 1)
    result("scale_redis_acl_users", acl_users, "users", "tenants", TENANTS + 1)
    result("scale_pg_catalog_query_ms", catalog, "ms", "pg_select_1_ms", trivial)
    result("scale_redis_acl_list_ms", acl_list, "ms", "redis_ping_ms", ping)
    return 0


if __name__ == "__main__":
    sys.exit(main())
