"""The Engine and WorkerPool reconcilers end to end: a real operator process against the real control plane
(kwok runs the pods), PostgreSQL (the engine registry) and Redis (the pools' queues)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import model_volume_helpers as volumes
import operator_helpers
import pytest
import redis.asyncio as aioredis
import tenant_operator_process as operator_process
from operator_helpers import apply_tenant, eventually, exists, get, kubectl, operator_env, unique, wait_ready

from neuroedge_dev import procs, toolchain
from neuroedge_queue import jobs, keys, producer

pytestmark = pytest.mark.cluster

HASH = "neuroedge.io/spec-hash"
KEDA_CRDS = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: scaledobjects.keda.sh}
spec:
  group: keda.sh
  scope: Namespaced
  names: {kind: ScaledObject, plural: scaledobjects, singular: scaledobject, listKind: ScaledObjectList}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: triggerauthentications.keda.sh}
spec:
  group: keda.sh
  scope: Namespaced
  names:
    kind: TriggerAuthentication
    plural: triggerauthentications
    singular: triggerauthentication
    listKind: TriggerAuthenticationList
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"""


@pytest.fixture(scope="module")
def operator(
    kubeconfig: Path, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[operator_process.OperatorProcess]:
    env = operator_env(
        kubeconfig,
        database_url,
        redis_url,
        NEUROEDGE_RESYNC_INTERVAL="2",
        NEUROEDGE_AUTOSCALE_INTERVAL="1",
        NEUROEDGE_SCHEDULE_INTERVAL="1",
        NEUROEDGE_KEDA_CHECK_INTERVAL="1",
        NEUROEDGE_RUNTIME_IMAGE="neuroedge/runtime:test",
    )
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    with operator_helpers.running_operator(env, log, log_lines=400) as proc:
        yield proc


@pytest.fixture(scope="module")
def tenant(operator: operator_process.OperatorProcess, kubeconfig: Path) -> str:
    """A provisioned tenant whose one namespace carries its name."""
    name = unique("wl")
    apply_tenant(kubeconfig, name, {})
    wait_ready(kubeconfig, name)
    return name


@pytest.fixture
async def admin_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def apply(kubeconfig: Path, kind: str, namespace: str, name: str, spec: dict[str, Any]) -> None:
    body = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }
    kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(body))


def patch(kubeconfig: Path, what: str, namespace: str, spec: dict[str, Any]) -> None:
    kubectl(kubeconfig, "patch", what, "-n", namespace, "--type=merge", "-p", json.dumps({"spec": spec}))


def wait_ready_cr(kubeconfig: Path, what: str, namespace: str, timeout: int = 60) -> None:
    try:
        kubectl(kubeconfig, "wait", "--for=condition=Ready", what, "-n", namespace, f"--timeout={timeout}s")
    except Exception as exc:
        raise AssertionError(f"{what} not Ready: {status(kubeconfig, what, namespace)}") from exc


def status(kubeconfig: Path, what: str, namespace: str) -> dict[str, Any]:
    return dict(get(kubeconfig, what, "-n", namespace).get("status") or {})


def cond(kubeconfig: Path, what: str, namespace: str, kind: str = "Ready") -> dict[str, Any]:
    conds = status(kubeconfig, what, namespace).get("conditions", [])
    return next((c for c in conds if c["type"] == kind), {})


def spec_hash(kubeconfig: Path, deployment: str, namespace: str) -> str:
    template = get(kubeconfig, "deployment", deployment, "-n", namespace)["spec"]["template"]
    return str(template["metadata"]["annotations"][HASH])


def settled(kubeconfig: Path, what: str, namespace: str) -> bool:
    """Ready for the current generation (so a `wait` after a change waits for the new pods)."""
    body = get(kubeconfig, what, "-n", namespace)
    ready = next((c for c in (body.get("status") or {}).get("conditions", []) if c["type"] == "Ready"), {})
    return ready.get("status") == "True" and ready.get("observedGeneration") == body["metadata"]["generation"]


def quiescent(kubeconfig: Path, what: str, deployment: str, namespace: str) -> bool:
    """The Deployment has fully rolled out (all replicas updated, ready and available, no old pods) and the
    custom resource already reports every replica ready: nothing is left for the operator to observe."""
    dep = get(kubeconfig, "deployment", deployment, "-n", namespace)
    want, got = dep["spec"]["replicas"], dep.get("status") or {}
    rolled = got.get("observedGeneration") == dep["metadata"]["generation"] and all(
        got.get(field, 0) == want
        for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    )
    return (
        rolled
        and status(kubeconfig, what, namespace).get("readyReplicas", 0) == want
        and settled(kubeconfig, what, namespace)
    )


async def rolls_out(kubeconfig: Path, what: str, deployment: str, ns: str, change: dict[str, Any]) -> str:
    """Apply `change` and wait until the pods of the new spec are Ready; returns the new spec hash."""
    before = spec_hash(kubeconfig, deployment, ns)
    patch(kubeconfig, what, ns, change)
    await eventually(lambda: spec_hash(kubeconfig, deployment, ns) != before, what=f"{change} rolls out")
    await eventually(lambda: settled(kubeconfig, what, ns), timeout=60, what=f"{what} Ready after {change}")
    return spec_hash(kubeconfig, deployment, ns)


def writes(proc: operator_process.OperatorProcess) -> float:
    return proc.metric("neuroedge_operator_api_writes_total") + proc.metric(
        "neuroedge_operator_sql_statements_total"
    )


async def test_engine_and_pool_reach_ready_roll_out_every_change_and_idle_without_writes(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str, admin_db: asyncpg.Connection
) -> None:
    ns, pool, engine = tenant, unique("pool"), unique("eng")
    apply(kubeconfig, "WorkerPool", ns, pool, {"replicas": 1, "maxReplicas": 3, "engines": [engine]})
    engine_spec = {"type": "predictive", "replicas": 1, "workerPoolRef": {"name": pool}, "config": {"A": "1"}}
    apply(kubeconfig, "Engine", ns, engine, engine_spec)
    wait_ready_cr(kubeconfig, f"workerpool/{pool}", ns)
    wait_ready_cr(kubeconfig, f"engine/{engine}", ns)

    uid = get(kubeconfig, "engine", engine, "-n", ns)["metadata"]["uid"]
    for what in (f"deployment/engine-{engine}", f"configmap/engine-{engine}", f"service/{engine}"):
        owners = get(kubeconfig, what, "-n", ns)["metadata"]["ownerReferences"]
        assert [(o["uid"], o["controller"]) for o in owners] == [(uid, True)], what
    assert get(kubeconfig, "configmap", f"engine-{engine}", "-n", ns)["data"] == {"A": "1"}
    assert exists(kubeconfig, "pdb", f"workerpool-{pool}", "-n", ns)
    engine_status = status(kubeconfig, f"engine/{engine}", ns)
    assert engine_status["endpoint"] == f"http://{engine}.{ns}.svc:8080"
    assert (engine_status["replicas"], engine_status["readyReplicas"]) == (1, 1)
    pool_status = status(kubeconfig, f"workerpool/{pool}", ns)
    assert pool_status["queue"] == {"length": 0, "lag": 0, "pending": 0, "deadLettered": 0}
    assert pool_status["selector"] == f"app.kubernetes.io/component=worker,neuroedge.io/workerpool={pool}"
    row = await admin_db.fetchrow(
        "SELECT kind, config FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2", tenant, engine
    )
    assert row is not None and (row["kind"], json.loads(row["config"])) == ("predictive", {"A": "1"})

    deployment, hashes = f"engine-{engine}", {spec_hash(kubeconfig, f"engine-{engine}", ns)}
    for change in (
        {"image": "neuroedge/runtime:2"},
        {"config": {"A": "2"}},
        {"resources": {"requests": {"cpu": "50m"}, "limits": {"cpu": "200m"}}},
    ):
        hashes.add(await rolls_out(kubeconfig, f"engine/{engine}", deployment, ns, change))
    assert len(hashes) == 4  # every change rolled the pods
    row = await admin_db.fetchrow(
        "SELECT config FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2", tenant, engine
    )
    assert row is not None and json.loads(row["config"]) == {"A": "2"}
    container = get(kubeconfig, "deployment", deployment, "-n", ns)["spec"]["template"]["spec"]["containers"][
        0
    ]
    assert container["image"] == "neuroedge/runtime:2"
    assert container["resources"]["limits"]["cpu"] == "200m"

    before = spec_hash(kubeconfig, deployment, ns)
    patch(kubeconfig, f"engine/{engine}", ns, {"replicas": 2})
    await eventually(lambda: status(kubeconfig, f"engine/{engine}", ns).get("readyReplicas") == 2, timeout=60)
    assert spec_hash(kubeconfig, deployment, ns) == before  # replicas never roll pods

    pool_hash = spec_hash(kubeconfig, f"workerpool-{pool}", ns)
    for change in ({"concurrency": 3}, {"image": "neuroedge/runtime:3"}, {"queue": {"claimIdleSeconds": 12}}):
        new = await rolls_out(kubeconfig, f"workerpool/{pool}", f"workerpool-{pool}", ns, change)
        assert new != pool_hash
        pool_hash = new
    env = get(kubeconfig, "deployment", f"workerpool-{pool}", "-n", ns)["spec"]["template"]["spec"]
    values = {e["name"]: e.get("value") for e in env["containers"][0]["env"]}
    assert (values["NEUROEDGE_CONCURRENCY"], values["NEUROEDGE_JOB_TIMEOUT_SECONDS"]) == ("3", "7")
    kubectl(kubeconfig, "scale", f"workerpool/{pool}", "-n", ns, "--replicas=2")  # the /scale subresource
    await eventually(
        lambda: get(kubeconfig, "deployment", f"workerpool-{pool}", "-n", ns)["spec"]["replicas"] == 2
    )
    await eventually(lambda: settled(kubeconfig, f"workerpool/{pool}", ns), timeout=60, what="pool scaled")

    # Settled: every pod of both Deployments ready and reported, so nothing is left to observe; then three
    # resync passes over both objects write nothing (no apply, no status, no SQL).
    for what, deployment_name in (
        (f"engine/{engine}", deployment),
        (f"workerpool/{pool}", f"workerpool-{pool}"),
    ):
        await eventually(
            lambda what=what, name=deployment_name: quiescent(kubeconfig, what, name, ns),
            timeout=60,
            what=what,
        )
    await asyncio.sleep(2)
    counters = ("neuroedge_operator_api_writes_total", "neuroedge_operator_sql_statements_total")
    idle_start = operator.samples(*counters)
    await asyncio.sleep(6)
    idle_end = operator.samples(*counters)
    assert idle_end == idle_start, {
        k: v - idle_start.get(k, 0) for k, v in idle_end.items() if v != idle_start.get(k)
    }


async def test_suspend_scales_to_zero_and_keeps_everything(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str
) -> None:
    ns, engine = tenant, unique("sus")
    apply(kubeconfig, "Engine", ns, engine, {"type": "agent", "replicas": 2})
    wait_ready_cr(kubeconfig, f"engine/{engine}", ns)
    patch(kubeconfig, f"engine/{engine}", ns, {"suspend": True})
    await eventually(lambda: cond(kubeconfig, f"engine/{engine}", ns).get("reason") == "Suspended")
    assert get(kubeconfig, "deployment", f"engine-{engine}", "-n", ns)["spec"]["replicas"] == 0
    assert exists(kubeconfig, "service", engine, "-n", ns)
    assert exists(kubeconfig, "configmap", f"engine-{engine}", "-n", ns)
    patch(kubeconfig, f"engine/{engine}", ns, {"suspend": False})
    await eventually(lambda: settled(kubeconfig, f"engine/{engine}", ns), timeout=60, what="resumed")
    assert status(kubeconfig, f"engine/{engine}", ns)["readyReplicas"] == 2


async def test_missing_references_name_what_is_missing_and_recover(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str
) -> None:
    ns, engine, pool, model_secret = tenant, unique("ref"), unique("later"), unique("model")
    spec = {"type": "analytics", "workerPoolRef": {"name": pool}, "modelRef": {"name": model_secret}}
    apply(kubeconfig, "Engine", ns, engine, spec)
    await eventually(lambda: cond(kubeconfig, f"engine/{engine}", ns).get("reason") == "MissingReference")
    ready = cond(kubeconfig, f"engine/{engine}", ns)
    assert ready["status"] == "False"
    assert f"WorkerPool '{pool}' (spec.workerPoolRef) does not exist" in ready["message"]
    assert f"Secret '{model_secret}' (spec.modelRef) does not exist" in ready["message"]
    assert not exists(kubeconfig, "deployment", f"engine-{engine}", "-n", ns)

    kubectl(kubeconfig, "create", "secret", "generic", model_secret, "-n", ns, "--from-literal=key=v")
    apply(kubeconfig, "WorkerPool", ns, pool, {"replicas": 1, "engines": ["another"]})  # not this engine yet
    await eventually(lambda: cond(kubeconfig, f"engine/{engine}", ns).get("reason") == "NotServedByPool")
    patch(kubeconfig, f"workerpool/{pool}", ns, {"engines": ["another", engine]})
    wait_ready_cr(kubeconfig, f"engine/{engine}", ns)  # recovered on its own, by the resync timer


async def test_a_pool_without_an_engines_list_serves_every_engine_naming_it(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str
) -> None:
    ns, pool, first, second = tenant, unique("open"), unique("first"), unique("second")
    apply(kubeconfig, "WorkerPool", ns, pool, {"replicas": 1})  # no spec.engines at all
    wait_ready_cr(kubeconfig, f"workerpool/{pool}", ns)
    assert "engines" not in get(kubeconfig, f"workerpool/{pool}", "-n", ns)["spec"]
    for engine in (first, second):  # naming the pool is enough: no edit of the pool
        apply(kubeconfig, "Engine", ns, engine, {"type": "analytics", "workerPoolRef": {"name": pool}})
    for engine in (first, second):
        wait_ready_cr(kubeconfig, f"engine/{engine}", ns)

    patch(kubeconfig, f"workerpool/{pool}", ns, {"engines": [first]})  # a non-empty list is an allowlist
    await eventually(lambda: cond(kubeconfig, f"engine/{second}", ns).get("reason") == "NotServedByPool")
    ready = cond(kubeconfig, f"engine/{second}", ns)
    assert ready["status"] == "False"
    assert f"does not list engine '{second}'" in ready["message"]
    assert cond(kubeconfig, f"engine/{first}", ns)["status"] == "True"

    patch(kubeconfig, f"workerpool/{pool}", ns, {"engines": []})  # empty again: every engine naming it
    await eventually(lambda: cond(kubeconfig, f"engine/{second}", ns).get("status") == "True")
    assert cond(kubeconfig, f"engine/{first}", ns)["status"] == "True"


async def test_generated_pods_are_admitted_under_restricted_pod_security(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str
) -> None:
    ns, engine, pool = tenant, unique("pss"), unique("psspool")
    kubectl(
        kubeconfig, "label", "--overwrite", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted"
    )
    with pytest.raises(procs.StackError, match="violates PodSecurity"):  # the label is enforced here
        kubectl(
            kubeconfig,
            "run",
            unique("privileged"),
            "-n",
            ns,
            "--image=busybox",
            "--overrides",
            json.dumps({"spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {}}]}}),
        )
    apply(kubeconfig, "WorkerPool", ns, pool, {"replicas": 2, "engines": [engine]})
    apply(kubeconfig, "Engine", ns, engine, {"type": "agent", "replicas": 2, "workerPoolRef": {"name": pool}})
    wait_ready_cr(kubeconfig, f"engine/{engine}", ns)
    wait_ready_cr(kubeconfig, f"workerpool/{pool}", ns)
    for selector in (f"neuroedge.io/engine={engine}", f"neuroedge.io/workerpool={pool}"):
        pods = get(kubeconfig, "pods", "-n", ns, "-l", selector)["items"]
        assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods), selector


class ReplicaWatch:
    """Every spec.replicas value the API server reports for a pool, from a watch opened before the change it
    observes: a poll begun after the trigger misses a scale-up done before its first read (seen as `[4]`
    instead of `[1, 4]` on a busy machine), and one slower than the cooldown misses steps. A watch delivers
    every write in order, however late it is read."""

    def __init__(self, kubeconfig: Path, ns: str, pool: str) -> None:
        self._argv = [
            str(toolchain.kubectl()),
            f"--kubeconfig={kubeconfig}",
            "get",
            f"workerpool/{pool}",
            "-n",
            ns,
            "--watch",
            "-o",
            'jsonpath={.spec.replicas}{"\\n"}',
        ]
        self._proc: asyncio.subprocess.Process | None = None
        self._last: int | None = None

    async def __aenter__(self) -> ReplicaWatch:
        self._proc = await asyncio.create_subprocess_exec(
            *self._argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        await self._next(30)  # the current value: the watch is open before the caller triggers anything
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._proc is not None
        self._proc.kill()
        await self._proc.wait()

    async def _next(self, timeout: float) -> int:
        assert self._proc is not None and self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), timeout)
        if not line:
            raise AssertionError("the watch on the pool ended")
        self._last = int(line.decode().strip())
        return self._last

    async def sequence(self, until: int, timeout: float) -> list[int]:
        """The distinct values, in order, from the last one seen until `until`."""
        assert self._last is not None
        seen = [self._last]
        deadline = time.monotonic() + timeout
        while seen[-1] != until:
            remaining = deadline - time.monotonic()
            try:
                value = await self._next(max(remaining, 0.01))
            except TimeoutError:
                raise AssertionError(f"pool never reached {until} replicas: {seen}") from None
            if value != seen[-1]:
                seen.append(value)
        return seen


async def test_autoscaling_follows_the_backlog_up_at_once_and_down_by_steps(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str, admin_redis: aioredis.Redis
) -> None:
    ns, pool = tenant, unique("auto")
    scaling = {"enabled": True, "targetLagPerReplica": 10, "cooldownSeconds": 2, "scaleDownStep": 1}
    apply(
        kubeconfig,
        "WorkerPool",
        ns,
        pool,
        {"replicas": 1, "minReplicas": 1, "maxReplicas": 4, "autoscaling": scaling},
    )
    wait_ready_cr(kubeconfig, f"workerpool/{pool}", ns)
    assert cond(kubeconfig, f"workerpool/{pool}", ns, "Autoscaling")["reason"] == "Operator"

    queue_keys = keys.QueueKeys(tenant, pool)
    queue = producer.Producer(admin_redis, queue_keys, 3600)
    async with ReplicaWatch(kubeconfig, ns, pool) as replicas:  # watching before the backlog appears
        await queue.enqueue_many(
            [producer.JobRequest(engine="e", input=i) for i in range(55)]
        )  # wants 6 -> max 4
        assert await replicas.sequence(until=4, timeout=30) == [1, 4]  # up at once
        await eventually(
            lambda: settled(kubeconfig, f"workerpool/{pool}", ns), timeout=60, what="4 workers Ready"
        )
        assert status(kubeconfig, f"workerpool/{pool}", ns)["readyReplicas"] == 4
        await eventually(lambda: status(kubeconfig, f"workerpool/{pool}", ns)["queue"]["lag"] == 55)

        # Drain as a worker would: read, acknowledge and delete every entry.
        entries = await admin_redis.xreadgroup(keys.GROUP, "drainer", {queue_keys.stream: ">"}, count=100)
        ids = [entry_id for _stream, batch in entries for entry_id, _fields in batch]
        assert len(ids) == 55
        await admin_redis.xack(queue_keys.stream, keys.GROUP, *ids)
        await admin_redis.xdel(queue_keys.stream, *ids)
        assert await replicas.sequence(until=1, timeout=60) == [4, 3, 2, 1]  # step 1 per cooldown
    events = get(kubeconfig, "events", "-n", ns, "--field-selector", f"involvedObject.name={pool}")["items"]
    reasons = [e["reason"] for e in events if e["reason"] in {"ScaleUp", "ScaleDown"}]
    assert reasons.count("ScaleUp") == 1 and reasons.count("ScaleDown") == 3


async def test_keda_scaled_object_only_when_keda_is_installed(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str
) -> None:
    ns, pool = tenant, unique("keda")
    scaling = {"enabled": True, "keda": True, "targetLagPerReplica": 7}
    apply(kubeconfig, "WorkerPool", ns, pool, {"replicas": 1, "maxReplicas": 5, "autoscaling": scaling})
    wait_ready_cr(kubeconfig, f"workerpool/{pool}", ns)
    autoscaling = cond(kubeconfig, f"workerpool/{pool}", ns, "Autoscaling")
    assert autoscaling["reason"] == "KedaNotInstalled" and "built-in autoscaler" in autoscaling["message"]
    kubectl(kubeconfig, "apply", "-f", "-", input_text=KEDA_CRDS)
    try:
        kubectl(
            kubeconfig, "wait", "--for=condition=Established", "crd/scaledobjects.keda.sh", "--timeout=30s"
        )
        await eventually(
            lambda: exists(kubeconfig, "scaledobject", f"workerpool-{pool}", "-n", ns), what="SO"
        )
        scaled = get(kubeconfig, "scaledobject", f"workerpool-{pool}", "-n", ns)["spec"]
        assert scaled["scaleTargetRef"] == {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "WorkerPool",
            "name": pool,
        }
        (trigger,) = scaled["triggers"]
        assert trigger["type"] == "redis-streams"
        assert trigger["metadata"]["stream"] == keys.QueueKeys(tenant, pool).stream
        assert (trigger["metadata"]["consumerGroup"], trigger["metadata"]["lagCount"]) == ("pool", "7")
        assert exists(kubeconfig, "triggerauthentication", f"workerpool-{pool}", "-n", ns)
        assert exists(kubeconfig, "secret", f"workerpool-{pool}-keda", "-n", ns)
        await eventually(
            lambda: cond(kubeconfig, f"workerpool/{pool}", ns, "Autoscaling")["reason"] == "KEDA"
        )

        patch(
            kubeconfig, f"workerpool/{pool}", ns, {"suspend": True}
        )  # no ScaledObject wakes a suspended pool
        await eventually(lambda: not exists(kubeconfig, "scaledobject", f"workerpool-{pool}", "-n", ns))
        assert get(kubeconfig, "deployment", f"workerpool-{pool}", "-n", ns)["spec"]["replicas"] == 0
        assert cond(kubeconfig, f"workerpool/{pool}", ns)["reason"] == "Suspended"
    finally:
        kubectl(kubeconfig, "delete", "workerpool", pool, "-n", ns, "--wait=true")
        kubectl(kubeconfig, "delete", "-f", "-", "--ignore-not-found", input_text=KEDA_CRDS)


async def test_exhausted_quota_shows_as_degraded_quota_exceeded(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    tenant = unique("wlquota")
    apply_tenant(kubeconfig, tenant, {"quota": {"pods": 2}})
    wait_ready(kubeconfig, tenant)
    ns, engine = tenant, unique("big")
    apply(kubeconfig, "Engine", ns, engine, {"type": "agent", "replicas": 4})
    await eventually(
        lambda: cond(kubeconfig, f"engine/{engine}", ns, "Degraded").get("reason") == "QuotaExceeded",
        timeout=60,
        what="QuotaExceeded",
    )
    degraded = cond(kubeconfig, f"engine/{engine}", ns, "Degraded")
    assert degraded["status"] == "True" and "exceeded quota" in degraded["message"]
    ready = cond(kubeconfig, f"engine/{engine}", ns)
    assert (ready["status"], ready["reason"]) == ("False", "QuotaExceeded")
    assert cond(kubeconfig, f"engine/{engine}", ns, "Progressing")["status"] == "True"
    patch(kubeconfig, f"engine/{engine}", ns, {"replicas": 2})  # within the quota: recovers
    wait_ready_cr(kubeconfig, f"engine/{engine}", ns)
    assert cond(kubeconfig, f"engine/{engine}", ns, "Degraded")["status"] == "False"
    kubectl(kubeconfig, "delete", "tenant", tenant, "--wait=false")


async def test_deleting_engine_pool_and_tenant_removes_their_children(
    operator: operator_process.OperatorProcess, kubeconfig: Path, admin_db: asyncpg.Connection
) -> None:
    tenant = unique("wldel")
    apply_tenant(kubeconfig, tenant, {})
    wait_ready(kubeconfig, tenant)
    ns, engine, pool = tenant, unique("gone"), unique("gonepool")
    apply(kubeconfig, "WorkerPool", ns, pool, {"replicas": 1, "engines": [engine]})
    apply(kubeconfig, "Engine", ns, engine, {"type": "agent", "workerPoolRef": {"name": pool}})
    wait_ready_cr(kubeconfig, f"engine/{engine}", ns)
    wait_ready_cr(kubeconfig, f"workerpool/{pool}", ns)

    kubectl(kubeconfig, "delete", "engine", engine, "-n", ns, "--timeout=60s")
    for what in (f"deployment/engine-{engine}", f"service/{engine}", f"configmap/engine-{engine}"):
        await eventually(lambda what=what: not exists(kubeconfig, what, "-n", ns), what=f"{what} collected")
    count = await admin_db.fetchval(
        "SELECT count(*) FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2", tenant, engine
    )
    assert count == 0  # the runtime no longer serves it

    kubectl(kubeconfig, "delete", "workerpool", pool, "-n", ns, "--timeout=60s")
    for what in (f"deployment/workerpool-{pool}", f"pdb/workerpool-{pool}"):
        await eventually(lambda what=what: not exists(kubeconfig, what, "-n", ns), what=f"{what} collected")

    survivor = unique("left")
    apply(kubeconfig, "Engine", ns, survivor, {"type": "agent"})
    wait_ready_cr(kubeconfig, f"engine/{survivor}", ns)
    kubectl(kubeconfig, "delete", "tenant", tenant, "--timeout=120s")
    await eventually(lambda: not exists(kubeconfig, "namespace", ns), timeout=120, what="namespace removed")


def job_keys(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> list[tuple[str | None, str]]:
    decoded = [jobs.decode_entry(fields) for _id, fields in entries]
    return [(job.idempotency_key, job.id) for job in decoded]


def next_minute(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + timedelta(minutes=1)


async def until(moment: datetime) -> None:
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


async def test_schedules_enqueue_once_per_due_time_across_an_operator_restart(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str, admin_redis: aioredis.Redis
) -> None:
    """Due time D1 with the operator up; the operator is down across D2 and comes back after it: D2 is
    caught up once, D1 is not enqueued again. (Last in the module: it restarts the shared operator.)"""
    ns, engine, pool = tenant, unique("cron"), unique("cronpool")
    apply(kubeconfig, "WorkerPool", ns, pool, {"replicas": 1, "engines": [engine]})
    schedule = {"name": "tick", "cron": "* * * * *", "input": {"task": "tick"}}
    spec = {
        "type": "analytics",
        "workerPoolRef": {"name": pool},
        "schedules": [schedule],
        "config": {"outlier_z": "2.5"},
    }
    apply(kubeconfig, "Engine", ns, engine, spec)
    created = datetime.fromisoformat(
        get(kubeconfig, "engine", engine, "-n", ns)["metadata"]["creationTimestamp"]
    )
    first, second = next_minute(created), next_minute(created) + timedelta(minutes=1)
    stream = keys.QueueKeys(tenant, pool).stream

    def recorded() -> list[dict[str, str]]:
        return list(status(kubeconfig, f"engine/{engine}", ns).get("lastSchedules") or [])

    await until(first)
    await eventually(lambda: recorded() and recorded()[0]["lastEnqueuedTime"] == fmt(first), timeout=20)
    operator.stop()
    await until(second + timedelta(seconds=1))
    operator.start()
    await eventually(lambda: recorded()[0]["lastEnqueuedTime"] == fmt(second), timeout=20, what="catch-up")
    await asyncio.sleep(3)  # a few more schedule passes: nothing more is enqueued

    found = job_keys(await admin_redis.xrange(stream))
    prefix = f"sched:{ns}/{engine}/tick/"
    assert [key for key, _id in found] == [prefix + fmt(first), prefix + fmt(second)]
    assert recorded()[0]["lastJobId"] == found[1][1]
    # A worker needs no database to run them: each job carries the Engine's kind and config.
    decoded = [jobs.decode_entry(fields) for _id, fields in await admin_redis.xrange(stream)]
    assert {(job.engine, job.kind, json.dumps(job.config)) for job in decoded} == {
        (engine, "analytics", json.dumps({"outlier_z": "2.5"}))
    }


def fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_an_engine_s_model_is_registered_mounted_rolled_out_and_reported_in_status(
    operator: operator_process.OperatorProcess, kubeconfig: Path, tenant: str, admin_db: asyncpg.Connection
) -> None:
    ns, engine = tenant, unique("onnx")
    first = {"uri": "pvc://models/iris/v1.onnx", "sha256": "1" * 64}
    volumes.apply(kubeconfig, *volumes.claim(ns, "models"))  # the claim must exist to be mounted
    apply(
        kubeconfig,
        "Engine",
        ns,
        engine,
        {"type": "predictive", "model": first, "batching": {"maxBatchSize": 32}},
    )
    select = "SELECT model::text FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2"
    row = await eventually(lambda: admin_db.fetchval(select, tenant, engine), what="registry row")
    assert json.loads(row) == {
        **first,
        "format": "onnx",
        "batching": {"maxBatchSize": 32, "maxDelayMilliseconds": 5},
    }
    pod = get(kubeconfig, "deployment", f"engine-{engine}", "-n", ns)["spec"]["template"]["spec"]
    claim = next(v for v in pod["volumes"] if v["name"] == "model-store")
    assert claim["persistentVolumeClaim"] == {"claimName": "models", "readOnly": True}
    await eventually(
        lambda: cond(kubeconfig, f"engine/{engine}", ns, "ModelReady").get("reason") == "Loading"
    )

    # The runtime's report (what an Engine pod writes after loading the model) shows in the status.
    signature = [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    report = (
        "INSERT INTO neuroedge.engine_model_reports (tenant_id, name, instance, uri, sha256, loaded, reason, "
        "message, inputs, outputs) VALUES ($1, $2, 'pod-1', $3, $4, $5, $6, $7, $8::jsonb, $8::jsonb) "
        "ON CONFLICT (tenant_id, name, instance) DO UPDATE SET uri = EXCLUDED.uri, sha256 = EXCLUDED.sha256, "
        "loaded = EXCLUDED.loaded, reason = EXCLUDED.reason, message = EXCLUDED.message"
    )
    await admin_db.execute(
        report, tenant, engine, first["uri"], first["sha256"], True, "Loaded", "ok", json.dumps(signature)
    )
    await eventually(lambda: cond(kubeconfig, f"engine/{engine}", ns, "ModelReady").get("status") == "True")
    model_status = status(kubeconfig, f"engine/{engine}", ns)["model"]
    assert model_status["sha256"] == first["sha256"] and model_status["inputs"] == signature

    # A new model rolls the pods; when it cannot be loaded the Engine is not Ready, with the runtime's reason.
    second = {"uri": "pvc://models/iris/v2.onnx", "sha256": "2" * 64}
    before = spec_hash(kubeconfig, f"engine-{engine}", ns)
    patch(kubeconfig, f"engine/{engine}", ns, {"model": second})
    await eventually(lambda: spec_hash(kubeconfig, f"engine-{engine}", ns) != before, what="model rolls out")
    await admin_db.execute(
        report, tenant, engine, second["uri"], second["sha256"], False, "DigestMismatch", "bytes differ", None
    )
    await eventually(lambda: cond(kubeconfig, f"engine/{engine}", ns).get("reason") == "DigestMismatch")
    assert cond(kubeconfig, f"engine/{engine}", ns)["status"] == "False"
    assert cond(kubeconfig, f"engine/{engine}", ns, "ModelReady")["reason"] == "DigestMismatch"
    assert "model" not in status(kubeconfig, f"engine/{engine}", ns)
