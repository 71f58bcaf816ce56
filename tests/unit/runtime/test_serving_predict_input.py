"""`/engine/predict` input of a model-serving Engine as an inference request, and the serving settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neuroedge_runtime.serving import oip, predict
from neuroedge_runtime.serving.sessions import Signature, TensorSpec
from neuroedge_runtime.serving.tensors import TensorError
from neuroedge_runtime.settings import RuntimeSettings

ONE = Signature((TensorSpec("X", "FP32", (-1, 2)),), (TensorSpec("y", "INT64", (-1,)),))
TWO = Signature((TensorSpec("a", "FP32", (-1, 2)), TensorSpec("b", "BYTES", (-1,))), ONE.outputs)


def test_instances_are_rows_of_the_only_input() -> None:
    request = predict.request_of({"instances": [[1, 2], [3, 4], [5, 6]]}, ONE)
    decoded = oip.decode(request, b"", ONE)
    assert decoded.inputs["X"].shape == (3, 2) and decoded.inputs["X"].dtype == np.float32


def test_named_inputs_take_the_model_s_datatypes() -> None:
    request = predict.request_of({"inputs": {"a": [[1, 2]], "b": ["x"]}}, TWO)
    decoded = oip.decode(request, b"", TWO)
    assert decoded.inputs["b"].tolist() == [b"x"]


@pytest.mark.parametrize(
    ("document", "signature", "message"),
    [
        ({"instances": [[1, 2], [3]]}, ONE, "not rectangular"),
        ({"instances": [[1, 2]]}, TWO, 'needs a model with one input; this one has a, b: use "inputs"'),
        ({"inputs": {"zz": [[1, 2]]}}, ONE, "unknown input 'zz'"),
        ({"inputs": [1]}, ONE, "must map input names"),
        ({}, ONE, "exactly one of"),
        ({"instances": [], "inputs": {}}, ONE, "exactly one of"),
        ({"instances": [[1, 2]], "extra": 1}, ONE, "exactly one of"),
    ],
)
def test_unusable_input_is_refused(document: dict[str, Any], signature: Signature, message: str) -> None:
    with pytest.raises(TensorError, match=message):
        predict.request_of(document, signature)


def test_outputs_come_back_as_nested_lists() -> None:
    assert predict.nested(np.arange(4).reshape(2, 2)) == [[0, 1], [2, 3]]
    text = np.empty(2, dtype=object)
    text[:] = [b"a", b"b"]
    assert predict.nested(text) == ["a", "b"]


def test_serving_settings_from_the_environment() -> None:
    env = {
        "DATABASE_URL": "postgresql://x",
        "REDIS_URL": "redis://x",
        "NEUROEDGE_MODEL_CACHE_DIR": "/cache",
        "NEUROEDGE_MODEL_MEMORY_BYTES": "1000",
        "NEUROEDGE_INTRA_OP_THREADS": "4",
        "NEUROEDGE_ENGINE": "iris",
        "NEUROEDGE_TENANT": "acme",
        "HOSTNAME": "engine-iris-0",
    }
    settings = RuntimeSettings.from_env(env)
    assert settings.model_cache_dir == Path("/cache") and settings.model_memory_bytes == 1000
    assert settings.intra_op_threads == 4 and settings.instance == "engine-iris-0"
    assert (settings.engine, settings.tenant) == ("iris", "acme")
    assert RuntimeSettings.from_env({"DATABASE_URL": "d", "REDIS_URL": "r"}).engine is None
