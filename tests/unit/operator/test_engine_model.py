"""An Engine's trained model: the typed spec refuses what the CRD refuses, the registry row carries it, the
pods mount pvc/configmap volumes where the runtime resolves the URI, and a new model rolls the pods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workload
from neuroedge_runtime.serving import artifacts

INPUTS = engine_builder.EngineInputs(tenant="acme", default_image="registry.local/neuroedge/runtime:1.0")
DIGEST = "b" * 64


def predictive(model: dict[str, Any] | None, **spec: Any) -> engine_model.Engine:
    return samples.engine(type="predictive", modelRef=None, model=model, **spec)


def pod(engine: engine_model.Engine) -> dict[str, Any]:
    return dict(engine_builder.deployment(engine, INPUTS)["spec"]["template"]["spec"])


def template_hash(engine: engine_model.Engine) -> str:
    template = engine_builder.deployment(engine, INPUTS)["spec"]["template"]
    return str(template["metadata"]["annotations"]["neuroedge.io/spec-hash"])


@pytest.mark.parametrize(
    ("scheme", "uri", "volume"),
    [
        (
            "pvc",
            "pvc://models/iris/v1.onnx",
            {"persistentVolumeClaim": {"claimName": "models", "readOnly": True}},
        ),
        ("configmap", "configmap://iris-model/model.onnx", {"configMap": {"name": "iris-model"}}),
    ],
)
def test_mounted_models_are_mounted_read_only_where_the_runtime_resolves_them(
    scheme: str, uri: str, volume: dict[str, Any]
) -> None:
    spec = pod(predictive({"uri": uri}))
    (store,) = [v for v in spec["volumes"] if v["name"] == "model-store"]
    assert {k: v for k, v in store.items() if k != "name"} == volume
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "model-store"]
    assert mount["readOnly"] is True
    # The runtime maps the URI under NEUROEDGE_MODEL_MOUNT_DIR to a file inside this very mount.
    resolved = artifacts.mounted_path(uri, Path(env["NEUROEDGE_MODEL_MOUNT_DIR"]))
    assert str(resolved).startswith(mount["mountPath"] + "/")


def test_http_models_get_a_download_cache_and_no_store_volume() -> None:
    spec = pod(predictive({"uri": "https://models.example/m.onnx", "sha256": DIGEST}))
    names = {v["name"] for v in spec["volumes"]}
    assert "model-cache" in names and "model-store" not in names
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    cache = next(m for m in container["volumeMounts"] if m["name"] == "model-cache")
    assert cache["mountPath"] == env["NEUROEDGE_MODEL_CACHE_DIR"]


def test_a_new_model_rolls_the_pods() -> None:
    first = predictive({"uri": "https://models.example/m.onnx", "sha256": DIGEST})
    same = predictive({"uri": "https://models.example/m.onnx", "sha256": DIGEST})
    swapped = predictive({"uri": "https://models.example/m.onnx", "sha256": "c" * 64})
    assert template_hash(first) == template_hash(same)
    assert template_hash(first) != template_hash(swapped)
    annotations = engine_builder.deployment(swapped, INPUTS)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["neuroedge.io/model-sha256"] == "c" * 64


def test_the_registry_row_carries_model_and_batching() -> None:
    engine = predictive(
        {"uri": "pvc://models/m.onnx"}, batching={"maxBatchSize": 32, "maxDelayMilliseconds": 4}
    )
    assert engine.spec.registry_model() == {
        "uri": "pvc://models/m.onnx",
        "format": "onnx",
        "batching": {"maxBatchSize": 32, "maxDelayMilliseconds": 4},
    }
    assert predictive(None).spec.registry_model() is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"model": {"uri": "s3://bucket/m.onnx"}}, "scheme must be one of"),
        ({"model": {"uri": "https://models.example/m.onnx"}}, "needs spec.model.sha256"),
        ({"model": {"uri": "pvc://claim/../etc/passwd"}}, "without '..' segments"),
        ({"model": {"uri": "pvc://claim"}}, "<scheme>://<host or volume>/<path>"),
        ({"model": {"uri": "pvc://c/m.onnx", "sha256": "XYZ"}}, "sha256"),
        ({"batching": {"maxBatchSize": 4}}, "needs spec.model"),
    ],
)
def test_bad_model_specs_are_refused_by_the_typed_spec(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(workload.InvalidResourceError, match=message):
        engine_model.parse(samples.engine_body(type="predictive", modelRef=None, **spec))


def test_only_predictive_engines_serve_a_model() -> None:
    with pytest.raises(workload.InvalidResourceError, match="predictive engines only"):
        engine_model.parse(samples.engine_body(model={"uri": "pvc://c/m.onnx"}))
