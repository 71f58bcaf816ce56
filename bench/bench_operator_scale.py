"""Operator scale: 1,000 Tenants (namespace, roles, Redis user each) and 1,000 WorkerPools applied at once.
On demand (`make scale`): it takes many minutes.

Figures: time until every object is Ready (baseline: 10 x the time for 100 tenants alone, measured first in
the same run), the operator's resident memory (baseline: at 100 tenants, each with its WorkerPool too), its
idle non-watch API requests a minute at 1,000 tenants (baseline: at 100; the ratio is the growth, the target
about 1), and what grows with the tenants: reading pg_policies (beside SELECT 1) and Redis ACL LIST (beside
PING), PostgreSQL roles and policies and Redis ACL users (beside their counts at 100 tenants). Idle requests
are the API server's non-watch requests in one minute minus those of the same control plane without the
operator, measured first.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import redis
from prometheus_client.parser import text_string_to_metric_families

from neuroedge_dev import controlplane, local
from neuroedge_dev import stack as dev_stack

SMALL, LARGE = 100, 1000
NODES = 4
"""kwok nodes of 32 CPUs each: 1,000 runtime pods request 100 CPUs. The stack's two nodes hold 640 of them,
and the rest stay Pending (Unschedulable): that, not the operator, left 360 WorkerPools not Ready in the
first runs."""
LABEL = "neuroedge.io/bench-scale"
WATCH_VERBS = {"WATCH", "WATCHLIST", "CONNECT"}


def kubectl(*args: str, input_text: str | None = None) -> str:
    return controlplane.kubectl(Path(os.environ["KUBECONFIG"]), *args, input_text=input_text)


def objects(first: int, last: int) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for i in range(first, last):
        name = f"scale-{i:04d}"
        items.append(
            {
                "apiVersion": "neuroedge.io/v1alpha1",
                "kind": "Tenant",
                "metadata": {"name": name, "labels": {LABEL: "yes"}},
                "spec": {"namespaces": [name], "database": {"reclaimPolicy": "Delete"}},
            }
        )
    return items


def pools(first: int, last: int) -> list[dict[str, object]]:
    return [
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "WorkerPool",
            "metadata": {"name": "general", "namespace": f"scale-{i:04d}", "labels": {LABEL: "yes"}},
            "spec": {"replicas": 1},
        }
        for i in range(first, last)
    ]


def apply_pools_as_namespaces_appear(count: int, timeout: float) -> None:
    """A WorkerPool in each tenant's namespace as soon as the operator made it (an apply into a namespace that
    does not exist yet is refused)."""
    pending = {f"scale-{i:04d}": i for i in range(count)}
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} tenant namespaces missing after {timeout}s")
        present = set(kubectl("get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}").split())
        ready = sorted(pending[n] for n in pending.keys() & present)
        apply([pool for i in ready for pool in pools(i, i + 1)])
        for i in ready:
            del pending[f"scale-{i:04d}"]
        time.sleep(2)


def apply(items: list[dict[str, object]]) -> None:
    for start in range(0, len(items), 200):
        chunk = {"apiVersion": "v1", "kind": "List", "items": items[start : start + 200]}
        kubectl("apply", "-f", "-", input_text=json.dumps(chunk))


def ready(kind: str) -> int:
    listed = json.loads(kubectl("get", kind, "-A", "-l", LABEL, "-o", "json"))["items"]
    return sum(
        any(c["type"] == "Ready" and c["status"] == "True" for c in o.get("status", {}).get("conditions", []))
        and o["status"].get("observedGeneration") == o["metadata"]["generation"]
        for o in listed
    )


def wait_ready(
    tenants: int, workerpools: int, timeout: float, started: float | None = None
) -> dict[str, float]:
    """Seconds from `started` (default: now) until all `tenants`, then all `workerpools`, were Ready, by kind;
    progress printed every half minute."""
    started = time.monotonic() if started is None else started
    wanted = {"tenants": tenants, "workerpools": workerpools}
    took: dict[str, float] = {}
    shown = 0.0
    while len(took) < len(wanted):
        counts = {kind: ready(kind) for kind in wanted if kind not in took}
        elapsed = time.monotonic() - started
        for kind, count in counts.items():
            if count >= wanted[kind]:
                took[kind] = elapsed
        if elapsed - shown >= 30:
            shown = elapsed
            print(f"  {elapsed:.0f}s: Ready {counts}", flush=True)
        if len(took) < len(wanted) and elapsed > timeout:
            raise SystemExit(f"not Ready after {timeout}s: {counts}")
        time.sleep(5)
    return took


def non_watch_requests() -> collections.Counter[str]:
    """The API server's non-watch requests so far, by verb and resource."""
    counts: collections.Counter[str] = collections.Counter()
    for family in text_string_to_metric_families(kubectl("get", "--raw", "/metrics")):
        for s in family.samples:
            if s.name == "apiserver_request_total" and s.labels.get("verb") not in WATCH_VERBS:
                resource = "/".join(filter(None, (s.labels.get("resource"), s.labels.get("subresource"))))
                counts[f"{s.labels.get('verb')} {resource or s.labels.get('path', '?')}"] += int(s.value)
    return counts


def per_minute(label: str) -> float:
    """Non-watch requests in one minute; the busiest verbs and resources are printed under `label`."""
    before = non_watch_requests()
    time.sleep(60)
    after = non_watch_requests()
    after.subtract(before)
    busiest = ", ".join(f"{key} {count:.0f}" for key, count in after.most_common(6) if count > 0)
    print(f"  {label}: busiest requests/min: {busiest}", flush=True)
    return after.total() - 1  # the /metrics read itself


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def result(name: str, value: float, unit: str, baseline_name: str, baseline: float) -> None:
    row = {"name": name, "value": round(value, 2), "unit": unit}
    print(
        json.dumps({**row, "baseline_name": baseline_name, "baseline_value": round(baseline, 2)}), flush=True
    )


def timed_ms(call: Callable[[], object], repeat: int = 20) -> float:
    """Median milliseconds of `call`."""
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        took.append((time.perf_counter() - started) * 1000)
    return sorted(took)[len(took) // 2]


async def postgres_figures(dsn: str) -> tuple[int, int, float, float]:
    """(tenant login roles, RLS policies, median ms of reading pg_policies, median ms of SELECT 1): what the
    catalog holds at this scale and what reading it costs."""
    conn = await asyncpg.connect(dsn)
    try:
        roles = await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'ne_tenant_scale_%'")
        policies = await conn.fetchval("SELECT count(*) FROM pg_policies")

        async def median(query: str) -> float:
            took = []
            for _ in range(20):
                started = time.perf_counter()
                await conn.fetch(query)
                took.append((time.perf_counter() - started) * 1000)
            return sorted(took)[len(took) // 2]

        catalog, trivial = await median("SELECT * FROM pg_policies"), await median("SELECT 1")
    finally:
        await conn.close()
    return int(roles), int(policies), catalog, trivial


def catalog_counts(state_dir: Path) -> tuple[int, int, int]:
    """(tenant login roles, RLS policies, Redis ACL users) now: what grows with the tenants."""
    running = dev_stack.load(state_dir)
    assert running is not None
    roles, policies, _, _ = asyncio.run(postgres_figures(running.database_url))
    return roles, policies, len(redis.Redis.from_url(running.redis_url).acl_users())


def main() -> int:
    state_dir = Path(os.environ["NEUROEDGE_STATE_DIR"])
    for node in range(NODES):
        controlplane.register_fake_node(Path(os.environ["KUBECONFIG"]), f"kwok-node-{node}")
    noise = per_minute("control plane alone")
    print(f"control plane without the operator: {noise:.0f} non-watch requests/min")
    record = local.start_operator(state_dir, resync_interval=60)
    apply(objects(0, SMALL))
    small_ready = wait_ready(SMALL, 0, 900)["tenants"]
    # The idle and memory figures with a WorkerPool per tenant at both sizes.
    apply_pools_as_namespaces_appear(SMALL, 900)
    wait_ready(SMALL, SMALL, 900)
    small_counts = catalog_counts(state_dir)
    time.sleep(70)
    idle_small = per_minute(f"{SMALL} tenants idle") - noise
    rss_small = rss_mb(record.pid)
    print(
        f"{SMALL} tenants: Ready in {small_ready:.1f}s, idle {idle_small:.0f} req/min, RSS {rss_small:.0f} MB"
    )

    started = time.monotonic()
    apply(objects(SMALL, LARGE))
    apply_pools_as_namespaces_appear(LARGE, 900)
    took = wait_ready(LARGE, LARGE, 3600, started)
    large_ready = max(took.values())
    result(
        "operator_1000_tenants_1000_pools_ready", large_ready, "s", "10x_100_tenants_ready", 10 * small_ready
    )
    result("operator_1000_tenants_ready", took["tenants"], "s", "10x_100_tenants_ready", 10 * small_ready)
    result(
        "operator_1000_workerpools_ready",
        took["workerpools"],
        "s",
        "operator_1000_tenants_ready",
        took["tenants"],
    )
    time.sleep(70)
    idle_large = per_minute(f"{LARGE} tenants idle") - noise
    result(
        "operator_idle_api_requests_per_minute_1000_tenants",
        idle_large,
        "req/min",
        "operator_idle_api_requests_per_minute_100_tenants",
        idle_small,
    )
    result("operator_rss_1000_tenants", rss_mb(record.pid), "MB", "operator_rss_100_tenants", rss_small)
    running = dev_stack.load(state_dir)
    assert running is not None
    roles, policies, catalog, trivial = asyncio.run(postgres_figures(running.database_url))
    client = redis.Redis.from_url(running.redis_url)
    acl_users = len(client.acl_users())
    print(f"PostgreSQL: {roles} tenant login roles, {policies} RLS policies; Redis: {acl_users} ACL users")
    for name, value, small in zip(
        ("postgres_tenant_roles", "postgres_rls_policies", "redis_acl_users"),
        (roles, policies, acl_users),
        small_counts,
        strict=True,
    ):
        result(f"{name}_{LARGE}_tenants", value, "count", f"{name}_{SMALL}_tenants", small)
    result("pg_policies_read_ms_1000_tenants", catalog, "ms", "pg_select_1_ms", trivial)
    result(
        "redis_acl_list_ms_1000_tenants",
        timed_ms(client.acl_list),
        "ms",
        "redis_ping_ms",
        timed_ms(client.ping),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
