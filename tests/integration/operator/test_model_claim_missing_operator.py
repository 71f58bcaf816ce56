"""An Engine switched to a pvc:// model whose claim does not exist keeps serving its previous model: its
Deployment and pods are left as they are, its status says which claim is missing in which namespace
(ModelReady and Ready False, ModelVolumeNotFound), and once the claim is created the next pass (the resync:
claims are read by name, not watched) rolls the pods to the new model and the Engine is Ready again. The
pool that runs its jobs never mounts the missing claim: it keeps the model its workers were started with.
Real operator process, real control plane (kwok)."""

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

MODEL_URI = "neuroedge.io/model-uri"
ENGINE_MODELS = "neuroedge.io/engine-models"


@pytest.fixture(scope="module")
def operator(
    kubeconfig: Path, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[operator_process.OperatorProcess]:
    env = operator_env(
        kubeconfig,
        database_url,
        redis_url,
        NEUROEDGE_RESYNC_INTERVAL="3",  # a claim is seen on the next pass
        NEUROEDGE_RUNTIME_IMAGE="neuroedge/runtime:test",
    )
    log = tmp_path_factory.mktemp("model-claim") / "operator.log"
    with operator_helpers.running_operator(env, log, log_lines=200) as proc:
        yield proc


def condition(kubeconfig: Path, namespace: str, engine: str, kind: str) -> dict[str, Any]:
    conds = get(kubeconfig, "engine", engine, "-n", namespace).get("status", {}).get("conditions", [])
    return next((c for c in conds if c["type"] == kind), {})


def state(kubeconfig: Path, namespace: str, engine: str, kind: str) -> tuple[str, str]:
    found = condition(kubeconfig, namespace, engine, kind)
    return found.get("status", ""), found.get("reason", "")


def template(kubeconfig: Path, namespace: str, deployment: str) -> dict[str, Any]:
    return dict(get(kubeconfig, "deployment", deployment, "-n", namespace)["spec"]["template"])


def running_pods(kubeconfig: Path, namespace: str, engine: str) -> dict[str, str]:
    """Name -> served model URI of the Engine's running pods."""
    pods = get(kubeconfig, "pods", "-n", namespace, "-l", f"neuroedge.io/engine={engine}")["items"]
    return {
        p["metadata"]["name"]: p["metadata"]["annotations"].get(MODEL_URI, "")
        for p in pods
        if p["status"].get("phase") == "Running" and p["metadata"].get("deletionTimestamp") is None
    }


async def test_an_engine_keeps_its_model_until_the_new_model_s_claim_exists(
    operator: operator_process.OperatorProcess, kubeconfig: Path
) -> None:
    ns, pool = volumes.tenant(kubeconfig), "scoring"
    v1, v2 = "pvc://models/iris/v1.onnx", "pvc://fresh/iris/v2.onnx"
    volumes.apply(kubeconfig, *volumes.claim(ns, "models"))
    volumes.apply(
        kubeconfig,
        volumes.custom("WorkerPool", ns, pool, {"replicas": 1}),
        volumes.model_engine(ns, "iris", v1, pool),
    )
    await eventually(
        lambda: state(kubeconfig, ns, "iris", "Ready") == ("True", "Available"), timeout=90, what="Ready"
    )
    serving = running_pods(kubeconfig, ns, "iris")
    assert set(serving.values()) == {v1}
    before = template(kubeconfig, ns, "engine-iris")
    models = {f"{volumes.MOUNT_DIR}/pvc/models": volumes.claim_source("models")}
    await eventually(
        lambda: volumes.model_mounts(template(kubeconfig, ns, f"workerpool-{pool}")["spec"]) == models,
        what="the pool mounts the claim",
    )
    pool_before = template(kubeconfig, ns, f"workerpool-{pool}")

    # The model moves to a claim that does not exist yet.
    patch = {"spec": {"model": {"uri": v2}}}
    kubectl(kubeconfig, "patch", "engine/iris", "-n", ns, "--type=merge", "-p", json.dumps(patch))
    missing = ("False", "ModelVolumeNotFound")
    await eventually(
        lambda: state(kubeconfig, ns, "iris", "ModelReady") == missing, what="ModelVolumeNotFound"
    )
    message = condition(kubeconfig, ns, "iris", "ModelReady")["message"]
    assert f"PersistentVolumeClaim 'fresh' does not exist in namespace '{ns}'" in message, message
    assert state(kubeconfig, ns, "iris", "Ready") == missing
    assert "fresh" in condition(kubeconfig, ns, "iris", "Ready")["message"]
    # Held: the Deployment is unchanged, the same pods serve the previous model, and the pool, which never
    # mounts the missing claim, keeps the model its workers were started with (nothing of either rolls).
    assert template(kubeconfig, ns, "engine-iris") == before
    assert running_pods(kubeconfig, ns, "iris") == serving
    pool_template = template(kubeconfig, ns, f"workerpool-{pool}")
    assert pool_template == pool_before
    assert json.loads(pool_template["metadata"]["annotations"][ENGINE_MODELS]) == {"iris": {"uri": v1}}

    # The claim created: the next pass rolls the Engine to the new model and it is Ready again.
    volumes.apply(kubeconfig, *volumes.claim(ns, "fresh"))
    await eventually(
        lambda: template(kubeconfig, ns, "engine-iris")["metadata"]["annotations"].get(MODEL_URI) == v2,
        what="the Engine rolls to the new model",
    )
    fresh = {f"{volumes.MOUNT_DIR}/pvc/fresh": volumes.claim_source("fresh")}
    assert volumes.model_mounts(template(kubeconfig, ns, "engine-iris")["spec"]) == fresh
    await eventually(
        lambda: set(running_pods(kubeconfig, ns, "iris").values()) == {v2}, timeout=90, what="pods roll"
    )
    await eventually(
        lambda: state(kubeconfig, ns, "iris", "Ready") == ("True", "Available"), timeout=90, what="Ready"
    )
    assert state(kubeconfig, ns, "iris", "ModelReady")[1] != "ModelVolumeNotFound"
    await eventually(
        lambda: volumes.model_mounts(template(kubeconfig, ns, f"workerpool-{pool}")["spec"]) == fresh,
        what="the pool mounts the new claim",
    )
