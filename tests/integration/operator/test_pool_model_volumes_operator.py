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

import pytest
import tenant_operator_process as operator_process
from operator_helpers import apply_tenant, eventually, get, kubectl, operator_env, unique, wait_ready

pytestmark = pytest.mark.cluster

MOUNT_DIR = "/var/run/neuroedge/models"
HASH = "neuroedge.io/spec-hash"


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
    proc = operator_process.OperatorProcess(env, tmp_path_factory.mktemp("pool-models") / "operator.log")
    proc.start()
    yield proc
    proc.stop()
    print(proc.log_tail(200))


def tenant(kubeconfig: Path) -> str:
    """A provisioned tenant whose one namespace carries its name, enforcing Pod Security "restricted"."""
    name = unique("pm")
    apply_tenant(kubeconfig, name, {})
    wait_ready(kubeconfig, name)
    kubectl(
        kubeconfig, "label", "--overwrite", "namespace", name, "pod-security.kubernetes.io/enforce=restricted"
    )
    return name


def apply(kubeconfig: Path, *objects: dict[str, Any]) -> None:
    kubectl(
        kubeconfig,
        "apply",
        "-f",
        "-",
        input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )


def custom(kind: str, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "neuroedge.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


def model_engine(namespace: str, name: str, uri: str, pool: str) -> dict[str, Any]:
    spec = {"type": "predictive", "replicas": 1, "model": {"uri": uri}, "workerPoolRef": {"name": pool}}
    return custom("Engine", namespace, name, spec)


def claim(namespace: str, name: str) -> list[dict[str, Any]]:
    """A claim bound to a volume of its own (so that the scheduler places pods that mount it)."""
    volume = unique("pv")
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadOnlyMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": f"/models/{volume}"},
                "claimRef": {"namespace": namespace, "name": name},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadOnlyMany"],
                "storageClassName": "",
                "volumeName": volume,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    ]


def model_map(namespace: str, name: str) -> dict[str, Any]:
    """A ConfigMap holding a model as binaryData (the bytes do not matter to the operator)."""
    meta = {"name": name, "namespace": namespace}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "binaryData": {"model.onnx": "CAcSBHRlc3Q="},
    }


def template(kubeconfig: Path, namespace: str, pool: str) -> dict[str, Any]:
    found = get(kubeconfig, "deployment", f"workerpool-{pool}", "-n", namespace)
    return dict(found["spec"]["template"])


def model_mounts(pod_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mount path -> (the mount's readOnly, its volume's source) of the model volumes of a pod spec."""
    volumes = {v["name"]: {k: x for k, x in v.items() if k != "name"} for v in pod_spec.get("volumes", [])}
    (container,) = pod_spec["containers"]
    return {
        m["mountPath"]: {"readOnly": m.get("readOnly", False), **volumes[m["name"]]}
        for m in container.get("volumeMounts", [])
        if m["mountPath"].startswith(MOUNT_DIR + "/")
    }


def mounts_of(kubeconfig: Path, namespace: str, pool: str) -> dict[str, dict[str, Any]]:
    return model_mounts(template(kubeconfig, namespace, pool)["spec"])


def spec_hash(kubeconfig: Path, namespace: str, pool: str) -> str:
    return str(template(kubeconfig, namespace, pool)["metadata"]["annotations"][HASH])


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
        and p["metadata"]["annotations"].get(HASH) == want
        and model_mounts(p["spec"]) == expected
        for p in pods
    )


PVC_SOURCE = {"persistentVolumeClaim": {"claimName": "models", "readOnly": True}, "readOnly": True}
MAP_SOURCE = {"configMap": {"name": "iris-small", "defaultMode": 0o644}, "readOnly": True}  # API default


async def test_a_pool_mounts_its_engines_model_volumes_read_only_and_follows_their_changes(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    ns, other = tenant(kubeconfig), tenant(kubeconfig)
    pool = "scoring"  # the same pool name in both tenants' namespaces
    apply(kubeconfig, *claim(ns, "models"), model_map(ns, "iris-small"), *claim(other, "theirs"))
    apply(
        kubeconfig,
        custom("WorkerPool", ns, pool, {"replicas": 1}),
        custom("WorkerPool", other, pool, {"replicas": 1}),
    )
    await eventually(
        lambda: kubectl(kubeconfig, "get", "deployment", f"workerpool-{pool}", "-n", ns, check=False)
    )
    assert mounts_of(kubeconfig, ns, pool) == {}
    plain = spec_hash(kubeconfig, ns, pool)

    # Engines added later: the pool mounts each model's claim or ConfigMap, read-only, where the worker
    # resolves its URI; an Engine of another namespace naming a pool "scoring" is not this pool's.
    apply(
        kubeconfig,
        model_engine(ns, "iris", "pvc://models/iris/v1.onnx", pool),
        model_engine(ns, "small", "configmap://iris-small/model.onnx", pool),
        model_engine(other, "intruder", "pvc://theirs/m.onnx", pool),
    )
    expected = {f"{MOUNT_DIR}/pvc/models": PVC_SOURCE, f"{MOUNT_DIR}/configmap/iris-small": MAP_SOURCE}
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
