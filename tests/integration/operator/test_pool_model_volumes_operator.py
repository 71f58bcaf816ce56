"""A WorkerPool's pods mount, read-only, the pvc:// and configmap:// models of the Engines whose jobs it runs,
and follow those Engines: a model changed, an Engine added or deleted re-rolls the pool at once (the resync
timer is set beyond the test, so only the Engines' watch cache can have triggered it). The pods are admitted
under Pod Security "restricted" and run (kwok), and a pool never mounts another namespace's Engine volumes,
even of an Engine naming a pool of the same name. Real operator process, real control plane."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import model_volume_helpers as volumes
import operator_helpers
import pytest
import tenant_operator_process as operator_process
from operator_helpers import eventually, get, kubectl, operator_env

pytestmark = pytest.mark.cluster

MOUNT_DIR = volumes.MOUNT_DIR


@pytest.fixture(scope="module")
def operator(
    kubeconfig: Path, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[operator_process.OperatorProcess]:
    env = operator_env(
        kubeconfig,
        database_url,
        redis_url,
        NEUROEDGE_RESYNC_INTERVAL="3600",  # no drift repair during the test: events only
        NEUROEDGE_RUNTIME_IMAGE="neuroedge/runtime:test",
    )
    log = tmp_path_factory.mktemp("pool-models") / "operator.log"
    with operator_helpers.running_operator(env, log, log_lines=200) as proc:
        yield proc


def template(kubeconfig: Path, namespace: str, pool: str) -> dict[str, Any]:
    found = get(kubeconfig, "deployment", f"workerpool-{pool}", "-n", namespace)
    return dict(found["spec"]["template"])


def mounts_of(kubeconfig: Path, namespace: str, pool: str) -> dict[str, dict[str, Any]]:
    return volumes.model_mounts(template(kubeconfig, namespace, pool)["spec"])


def spec_hash(kubeconfig: Path, namespace: str, pool: str) -> str:
    return str(template(kubeconfig, namespace, pool)["metadata"]["annotations"][volumes.HASH])


def followed(operator: operator_process.OperatorProcess, namespace: str, pool: str) -> int:
    """How many times an Engine's change has reconciled the pool (the operator logs each)."""
    return operator.log_tail(5000).count(f"WorkerPool {namespace}/{pool}: an Engine it serves changed")


def pods_run(kubeconfig: Path, namespace: str, pool: str, expected: dict[str, dict[str, Any]]) -> bool:
    """Every pod of the pool runs the current template, with the expected model mounts."""
    want = spec_hash(kubeconfig, namespace, pool)
    pods = get(kubeconfig, "pods", "-n", namespace, "-l", f"neuroedge.io/workerpool={pool}")["items"]
    return bool(pods) and all(
        p["status"].get("phase") == "Running"
        and p["metadata"].get("deletionTimestamp") is None
        and p["metadata"]["annotations"].get(volumes.HASH) == want
        and volumes.model_mounts(p["spec"]) == expected
        for p in pods
    )


PVC_SOURCE = volumes.claim_source("models")
MAP_SOURCE = volumes.map_source("iris-small")


async def test_a_pool_mounts_its_engines_model_volumes_read_only_and_follows_their_changes(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    ns, other = volumes.tenant(kubeconfig), volumes.tenant(kubeconfig)
    pool = "scoring"  # the same pool name in both tenants' namespaces
    volumes.apply(
        kubeconfig,
        *volumes.claim(ns, "models"),
        volumes.model_map(ns, "iris-small"),
        *volumes.claim(other, "theirs"),
    )
    volumes.apply(
        kubeconfig,
        volumes.custom("WorkerPool", ns, pool, {"replicas": 1}),
        volumes.custom("WorkerPool", other, pool, {"replicas": 1}),
    )
    await eventually(
        lambda: kubectl(kubeconfig, "get", "deployment", f"workerpool-{pool}", "-n", ns, check=False)
    )
    assert mounts_of(kubeconfig, ns, pool) == {}
    plain = spec_hash(kubeconfig, ns, pool)

    # Engines added later: the pool mounts each model's claim or ConfigMap, read-only, where the worker
    # resolves its URI; an Engine of another namespace naming a pool "scoring" is not this pool's.
    volumes.apply(
        kubeconfig,
        volumes.model_engine(ns, "iris", "pvc://models/iris/v1.onnx", pool),
        volumes.model_engine(ns, "small", "configmap://iris-small/model.onnx", pool),
        volumes.model_engine(other, "intruder", "pvc://theirs/m.onnx", pool),
    )
    expected = {
        f"{MOUNT_DIR}/pvc/models": PVC_SOURCE,
        f"{MOUNT_DIR}/configmap/iris-small": MAP_SOURCE,
    }
    await eventually(
        lambda: mounts_of(kubeconfig, ns, pool) == expected,
        what="the pool mounts both models",
    )
    theirs = {
        f"{MOUNT_DIR}/pvc/theirs": {
            **PVC_SOURCE,
            "persistentVolumeClaim": {"claimName": "theirs", "readOnly": True},
        }
    }
    await eventually(
        lambda: mounts_of(kubeconfig, other, pool) == theirs, what="the other pool mounts its own"
    )
    env = {e["name"]: e.get("value") for e in template(kubeconfig, ns, pool)["spec"]["containers"][0]["env"]}
    assert env["NEUROEDGE_MODEL_MOUNT_DIR"] == MOUNT_DIR
    # Admitted under "restricted" (the namespace enforces it) and running, with those mounts.
    await eventually(lambda: pods_run(kubeconfig, ns, pool, expected), timeout=90, what="the pool's pods run")
    mounted = spec_hash(kubeconfig, ns, pool)
    assert mounted != plain
    triggered = followed(operator, ns, pool)
    assert triggered >= 1  # the Engines' changes reconciled the pool (its resync timer never ran)

    # A new model of a served Engine, on the same claim: the pool re-rolls.
    kubectl(
        kubeconfig,
        "patch",
        "engine/iris",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"model": {"uri": "pvc://models/iris/v2.onnx"}}}),
    )
    await eventually(
        lambda: spec_hash(kubeconfig, ns, pool) != mounted, what="the model change rolls the pool"
    )
    assert followed(operator, ns, pool) > triggered
    annotation = template(kubeconfig, ns, pool)["metadata"]["annotations"]["neuroedge.io/engine-models"]
    assert json.loads(annotation)["iris"] == {"uri": "pvc://models/iris/v2.onnx"}
    await eventually(lambda: pods_run(kubeconfig, ns, pool, expected), timeout=90, what="the pool rolled out")

    # An Engine deleted: its ConfigMap is no longer mounted.
    kubectl(kubeconfig, "delete", "engine/small", "-n", ns, "--wait=false")
    only_claim = {f"{MOUNT_DIR}/pvc/models": PVC_SOURCE}
    await eventually(
        lambda: mounts_of(kubeconfig, ns, pool) == only_claim, what="the deleted engine unmounted"
    )
    assert mounts_of(kubeconfig, other, pool) == theirs


def engine_condition(kubeconfig: Path, namespace: str, engine: str, kind: str) -> dict[str, Any]:
    conds = get(kubeconfig, "engine", engine, "-n", namespace).get("status", {}).get("conditions", [])
    return next((c for c in conds if c["type"] == kind), {})


def reason_of(kubeconfig: Path, namespace: str, engine: str, kind: str) -> tuple[str, str]:
    found = engine_condition(kubeconfig, namespace, engine, kind)
    return found.get("status", ""), found.get("reason", "")


async def test_a_missing_model_config_map_is_reported_not_mounted_and_recovered_from_when_created(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    ns, pool = volumes.tenant(kubeconfig), "scoring"
    volumes.apply(kubeconfig, *volumes.claim(ns, "models"))
    volumes.apply(
        kubeconfig,
        volumes.custom("WorkerPool", ns, pool, {"replicas": 1}),
        volumes.model_engine(ns, "iris", "pvc://models/iris/v1.onnx", pool),
        volumes.model_engine(ns, "late", "configmap://late-model/model.onnx", pool),
    )
    # The Engine names the missing ConfigMap and its namespace, ModelReady and Ready say why.
    missing = ("False", "ModelVolumeNotFound")
    await eventually(
        lambda: reason_of(kubeconfig, ns, "late", "ModelReady") == missing, what="ModelVolumeNotFound"
    )
    message = engine_condition(kubeconfig, ns, "late", "ModelReady")["message"]
    assert f"ConfigMap 'late-model' does not exist in namespace '{ns}'" in message, message
    assert reason_of(kubeconfig, ns, "late", "Ready") == missing
    assert reason_of(kubeconfig, ns, "late", "Degraded") == ("True", "ModelVolumeNotFound")
    events = kubectl(kubeconfig, "get", "events", "-n", ns, "--field-selector", "type=Warning", "-o", "json")
    assert any(e["reason"] == "ModelVolumeNotFound" for e in json.loads(events)["items"])
    # Nothing of the Engine is built while it waits (no pod can mount the missing ConfigMap) ...
    assert not kubectl(kubeconfig, "get", "deployment", "engine-late", "-n", ns, "--ignore-not-found")
    # ... and the pool mounts the other Engine's claim only; its pods run, its rollout does not stall.
    claim_only = {f"{MOUNT_DIR}/pvc/models": PVC_SOURCE}
    await eventually(lambda: mounts_of(kubeconfig, ns, pool) == claim_only, what="the pool mounts the claim")
    await eventually(
        lambda: pods_run(kubeconfig, ns, pool, claim_only), timeout=90, what="the pool's pods run"
    )
    await eventually(
        lambda: reason_of(kubeconfig, ns, "iris", "Ready") == ("True", "Available"),
        timeout=90,
        what="the other Engine is Ready",
    )
    annotation = template(kubeconfig, ns, pool)["metadata"]["annotations"]["neuroedge.io/engine-models"]
    assert set(json.loads(annotation)) == {"iris"}

    # The ConfigMap created: the watch event (the resync timer never runs here) recovers the Engine and
    # mounts it into the Engine's pods and the pool's, beside the claim.
    volumes.apply(kubeconfig, volumes.model_map(ns, "late-model"))
    await eventually(
        lambda: reason_of(kubeconfig, ns, "late", "Ready") == ("True", "Available"),
        timeout=90,
        what="the Engine recovers",
    )
    assert reason_of(kubeconfig, ns, "late", "ModelReady")[1] != "ModelVolumeNotFound"
    engine_pod = get(kubeconfig, "deployment", "engine-late", "-n", ns)["spec"]["template"]["spec"]
    late = {f"{MOUNT_DIR}/configmap/late-model": volumes.map_source("late-model")}
    assert volumes.model_mounts(engine_pod) == late
    both = {**claim_only, **late}
    await eventually(lambda: mounts_of(kubeconfig, ns, pool) == both, what="the pool mounts both")
    await eventually(lambda: pods_run(kubeconfig, ns, pool, both), timeout=90, what="the pool rolled out")
    assert "Engine " + ns + "/late: the ConfigMap its model is on was created" in operator.log_tail(5000)
