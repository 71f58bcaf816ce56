"""An Engine whose pvc:// or configmap:// model names a claim or ConfigMap that does not exist says so:
ModelReady False and Ready False with reason ModelVolumeNotFound and a message naming the object and its
namespace; which ConfigMap watch events concern which Engines."""

from __future__ import annotations

from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator.plan import model_status, model_volumes, workload_status
from neuroedge_operator.resources import conditions
from neuroedge_operator.resources import engine as engine_model

PVC = "pvc://models/iris/v1.onnx"
CONFIGMAP = "configmap://iris-small/model.onnx"
CLAIM = model_volumes.Volume("PersistentVolumeClaim", "models")
MAP = model_volumes.Volume("ConfigMap", "iris-small")


def engine(model: dict[str, Any] | None) -> engine_model.Engine:
    return samples.engine(type="predictive", modelRef=None, schedules=[], model=model)


@pytest.mark.parametrize(
    ("model", "volume"),
    [
        ({"uri": PVC}, CLAIM),
        ({"uri": CONFIGMAP}, MAP),
        ({"uri": "https://models.example/m.onnx", "sha256": "a" * 64}, None),
        (None, None),
    ],
)
def test_the_volume_of_a_model_is_its_claim_or_config_map(
    model: dict[str, Any] | None, volume: model_volumes.Volume | None
) -> None:
    assert model_volumes.of(engine(model).spec.model) == volume


@pytest.mark.parametrize(("uri", "volume"), [(PVC, CLAIM), (CONFIGMAP, MAP)])
def test_a_missing_volume_is_model_ready_false_with_the_object_and_namespace_named(
    uri: str, volume: model_volumes.Volume
) -> None:
    found = model_status.evaluate(engine({"uri": uri}), [], volume)
    assert found is not None and found.blocker is not None and found.model is None
    assert found.condition.type == conditions.MODEL_READY and found.condition.status == "False"
    assert found.condition.reason == found.blocker.reason == "ModelVolumeNotFound"
    message = found.condition.message
    assert f"{volume.kind} {volume.name!r}" in message and "namespace 'acme'" in message and uri in message
    # Ready False (and Degraded True) with the same reason, whatever the pods of a previous spec do.
    running = {"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "replicas": 2}}
    live = {**running, "status": {**running["status"], "updatedReplicas": 2, "availableReplicas": 2}}
    evaluated = workload_status.evaluate(workload_status.Observed(live), 2, False, [found.blocker])
    ready, _progressing, degraded = evaluated.conditions
    assert (ready.status, ready.reason) == ("False", "ModelVolumeNotFound")
    assert (degraded.status, degraded.reason) == ("True", "ModelVolumeNotFound")
    assert volume.name in ready.message
    assert conditions.severity(found.condition) == "Warning"


def test_a_present_volume_leaves_the_model_to_the_runtime_s_reports() -> None:
    found = model_status.evaluate(engine({"uri": PVC}), [], None)
    assert found is not None and found.condition.reason == "Loading" and found.blocker is None


def config_map(name: str, namespace: str = "acme") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "data": {}}


def test_only_a_creation_or_deletion_changes_whether_a_volume_exists() -> None:
    created, updated = config_map("iris-small"), {**config_map("iris-small"), "data": {"k": "v"}}
    assert model_volumes.appeared_or_gone(None, created) == ("acme", "iris-small")
    assert model_volumes.appeared_or_gone(created, None) == ("acme", "iris-small")
    assert model_volumes.appeared_or_gone(created, updated) is None
    assert model_volumes.appeared_or_gone(None, None) is None


def test_the_engines_on_a_config_map_are_found_in_raw_bodies() -> None:
    def body(name: str, model: dict[str, Any] | None) -> dict[str, Any]:
        found = samples.engine_body(type="predictive", modelRef=None, schedules=[], model=model)
        found["metadata"]["name"] = name
        return found

    bodies = [
        body("b", {"uri": CONFIGMAP}),
        body("a", {"uri": "configmap://iris-small/other.onnx"}),
        body("prefix", {"uri": "configmap://iris-small-2/model.onnx"}),  # another ConfigMap
        body("claim", {"uri": "pvc://iris-small/model.onnx"}),  # a claim of that name is not the ConfigMap
        body("none", None),
    ]
    assert model_volumes.naming(bodies, MAP) == ["a", "b"]
    assert model_volumes.naming(bodies, model_volumes.Volume("PersistentVolumeClaim", "iris-small")) == [
        "claim"
    ]
