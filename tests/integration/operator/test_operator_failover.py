"""Leader election end to end: two real operator processes against the real control plane, PostgreSQL and
Redis, with short lease periods. The leader is SIGKILLed, SIGTERMed or frozen (SIGSTOP) past its lease; the
standby takes over and reconciles what changed meanwhile, and a frozen old leader writes nothing when it
wakes up (its Kubernetes writes, kopf's included, its SQL statements and Redis ACL changes are counted)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from operator_helpers import apply_tenant, eventually, get, kubectl, wait_ready

from neuroedge_dev import replicas

pytestmark = pytest.mark.cluster

LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 3, 2, 0.5
WRITE_METRICS = (
    "neuroedge_operator_api_writes_total",
    "neuroedge_operator_sql_statements_total",
    "neuroedge_operator_redis_acl_writes_total",
    "neuroedge_operator_vector_actions_total",
    "neuroedge_operator_lease_writes_total",  # a successful one would mean it still believed it led
)
TIMINGS = replicas.LeaseTimings(LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD)


@pytest.fixture
def pair(kubeconfig: Path, database_url: str, redis_url: str, tmp_path: Path) -> Iterator[replicas.Pair]:
    parts = urlsplit(database_url)
    env = {
        "NEUROEDGE_DATABASE_URL": database_url,
        "NEUROEDGE_REDIS_URL": redis_url,
        "NEUROEDGE_TENANT_DATABASE_HOST": f"{parts.hostname}:{parts.port}",
        "NEUROEDGE_RESYNC_INTERVAL": "2",
        "NEUROEDGE_LOG_LEVEL": "INFO",
    }
    both = replicas.Pair(kubeconfig, env, TIMINGS, tmp_path)
    both.start()
    yield both
    both.stop()


def writes(proc: replicas.OperatorProcess) -> float:
    return sum(proc.samples(*WRITE_METRICS).values())


def quota_pods(kubeconfig: Path, namespace: str) -> str:
    quota = get(kubeconfig, "resourcequota", "neuroedge-quota", "-n", namespace)
    return str(quota["spec"]["hard"].get("pods", ""))


def reconciled(kubeconfig: Path, name: str) -> bool:
    tenant = get(kubeconfig, "tenant", name)
    status = tenant.get("status", {})
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    return ready and status.get("observedGeneration") == tenant["metadata"]["generation"]


def tenant_spec(name: str, pods: int) -> dict[str, object]:
    return {"namespaces": [name], "quota": {"cpu": "2", "memory": "2Gi", "pods": pods}}


def test_only_the_leader_reports_leading_and_both_are_healthy(pair: replicas.Pair) -> None:
    assert pair.a.metric("neuroedge_operator_leader") == 1
    assert pair.b.metric("neuroedge_operator_leader") == 0
    lease = get(pair.kubeconfig, "lease", "neuroedge-operator", "-n", "default")
    assert lease["spec"]["leaseDurationSeconds"] == LEASE_DURATION


async def test_sigkill_of_the_leader_hands_over_within_the_lease_and_the_change_is_reconciled(
    pair: replicas.Pair, kubeconfig: Path
) -> None:
    apply_tenant(kubeconfig, "ha-kill", tenant_spec("ha-kill", 10))
    wait_ready(kubeconfig, "ha-kill")
    pair.a.send(signal.SIGKILL)
    pair.a.wait_exit(10)
    apply_tenant(kubeconfig, "ha-kill", tenant_spec("ha-kill", 30))
    took = pair.wait_holder("ha-b", LEASE_DURATION + 5)
    print(f"SIGKILL failover: {took:.2f}s (lease {LEASE_DURATION}s)")
    await eventually(lambda: quota_pods(kubeconfig, "ha-kill") == "30", 60, "the standby's reconcile")
    await eventually(lambda: reconciled(kubeconfig, "ha-kill"), 60, "Ready at the new generation")
    assert pair.b.metric("neuroedge_operator_leader") == 1


async def test_sigterm_releases_the_lease_for_a_handover_within_3s(
    pair: replicas.Pair, kubeconfig: Path
) -> None:
    apply_tenant(kubeconfig, "ha-term", tenant_spec("ha-term", 10))
    wait_ready(kubeconfig, "ha-term")
    pair.a.send(signal.SIGTERM)
    took = pair.wait_holder("ha-b", 3)
    print(f"SIGTERM handover: {took:.2f}s")
    assert pair.a.wait_exit(20) == 0, pair.logs()
    apply_tenant(kubeconfig, "ha-term", tenant_spec("ha-term", 30))
    await eventually(lambda: quota_pods(kubeconfig, "ha-term") == "30", 60, "the new leader's reconcile")


async def test_a_leader_frozen_past_its_lease_writes_nothing_when_it_wakes(
    pair: replicas.Pair, kubeconfig: Path
) -> None:
    apply_tenant(kubeconfig, "ha-stop", tenant_spec("ha-stop", 10))
    wait_ready(kubeconfig, "ha-stop")
    await eventually(lambda: reconciled(kubeconfig, "ha-stop"), 60, "settled")
    before = writes(pair.a)
    pair.a.send(signal.SIGSTOP)
    frozen_at = time.monotonic()
    # A change the frozen leader's watch will deliver when it wakes: it must not act on it.
    apply_tenant(kubeconfig, "ha-stop", tenant_spec("ha-stop", 30))
    pair.wait_holder("ha-b", LEASE_DURATION + 5)
    await eventually(lambda: quota_pods(kubeconfig, "ha-stop") == "30", 60, "the new leader's reconcile")
    while time.monotonic() < frozen_at + LEASE_DURATION + 1:
        time.sleep(0.1)
    pair.a.send(signal.SIGCONT)
    await eventually(lambda: pair.a.metric("neuroedge_operator_leader") == 0, 30, "the old leader steps down")
    # Long enough for its resync timers (2 s) and the queued watch event to come due, had kopf kept running.
    time.sleep(5)
    assert writes(pair.a) == before, pair.logs()
    refused = pair.a.metric("neuroedge_operator_fenced_writes_total")
    print(f"SIGSTOP: writes refused by the old leader's fence after waking: {refused:.0f}")
    assert pair.holder() == "ha-b"
    apply_tenant(kubeconfig, "ha-stop", tenant_spec("ha-stop", 40))
    await eventually(lambda: quota_pods(kubeconfig, "ha-stop") == "40", 60, "the new leader carries on")
    assert json.loads(kubectl(kubeconfig, "get", "tenant", "ha-stop", "-o", "json"))["status"]
