"""`ModelReady` and `status.model` of a predictive Engine from the runtime's load reports."""

from __future__ import annotations

from typing import Any

import workload_samples as samples

from neuroedge_operator.plan import model_status
from neuroedge_operator.resources import engine as engine_model

URI = "https://models.example/iris.onnx"
DIGEST = "d" * 64
SIGNATURE = {"inputs": ({"name": "X", "datatype": "FP32", "shape": [-1, 4]},), "outputs": ()}


def engine(model: dict[str, Any] | None = None, kind: str = "predictive") -> engine_model.Engine:
    return samples.engine(type=kind, modelRef=None, model=model)


def report(instance: str, loaded: bool, **fields: Any) -> model_status.ModelReport:
    values: dict[str, Any] = {
        "uri": URI,
        "sha256": DIGEST,
        "reason": "Loaded" if loaded else "DigestMismatch",
        "message": "serving" if loaded else f"{URI} has sha256 {'e' * 64}",
        **(SIGNATURE if loaded else {}),
        **fields,
    }
    return model_status.ModelReport(instance=instance, loaded=loaded, **values)


def test_engines_of_other_types_have_no_model_status() -> None:
    assert model_status.evaluate(engine(kind="agent"), []) is None


def test_a_predictive_engine_without_a_model_uses_its_builtin_one() -> None:
    found = model_status.evaluate(engine(), [])
    assert found is not None and found.condition.ok and found.condition.reason == "BuiltIn"
    assert found.model is None and found.blocker is None


def test_a_loaded_model_is_ready_and_described() -> None:
    found = model_status.evaluate(
        engine({"uri": URI, "sha256": DIGEST}), [report("pod-b", True), report("pod-a", True)]
    )
    assert found is not None and found.condition.ok and found.condition.reason == "Loaded"
    assert "2 runtime instance(s)" in found.condition.message
    assert found.model == {"uri": URI, "sha256": DIGEST, "inputs": [SIGNATURE["inputs"][0]], "outputs": []}
    assert found.blocker is None


def test_a_failed_load_blocks_ready_with_the_runtime_s_reason() -> None:
    found = model_status.evaluate(engine({"uri": URI, "sha256": DIGEST}), [report("pod-a", False)])
    assert found is not None and found.condition.status == "False"
    assert found.condition.reason == "DigestMismatch" and "pod-a" in found.condition.message
    assert found.blocker is not None and found.blocker.reason == "DigestMismatch"
    assert found.model is None


def test_reports_about_an_earlier_model_do_not_count() -> None:
    old = report("pod-a", True, sha256="0" * 64)
    found = model_status.evaluate(engine({"uri": URI, "sha256": DIGEST}), [old])
    assert found is not None and found.condition.status == "Unknown" and found.condition.reason == "Loading"
    assert found.blocker is None


def test_one_instance_that_loaded_the_model_outweighs_failures() -> None:
    found = model_status.evaluate(
        engine({"uri": URI, "sha256": DIGEST}), [report("a", False), report("b", True)]
    )
    assert found is not None and found.condition.ok


def test_a_report_that_does_not_fit_the_condition_schema_is_tamed() -> None:
    odd = report("pod-a", False, reason="not camel case!", message="x" * 5000)
    found = model_status.evaluate(engine({"uri": URI, "sha256": DIGEST}), [odd])
    assert found is not None and found.condition.reason == "ModelNotLoaded"
    assert len(found.condition.message) == model_status.MESSAGE_LIMIT
