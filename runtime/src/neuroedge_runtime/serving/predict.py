"""`/engine/predict` input for a model-serving Engine, as an inference request: named tensors
(`{"inputs": {"<name>": nested rows}}`) or rows of a one-input model (`{"instances": [[...], ...]}`). The
datatype of each tensor is the model's and its shape that of the nested lists (which must be rectangular)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neuroedge_runtime.serving import oip, tensors
from neuroedge_runtime.serving.sessions import Signature
from neuroedge_runtime.serving.tensors import TensorError


def shape_of(name: str, data: Any) -> list[int]:
    """The shape of rectangular nested lists (a scalar has shape [])."""
    if not isinstance(data, list):
        return []
    if not data:
        return [0]
    shapes = [shape_of(name, item) for item in data]
    if any(shape != shapes[0] for shape in shapes):
        raise TensorError(f"input {name!r}: the nested lists are not rectangular")
    return [len(data), *shapes[0]]


def _named(document: Mapping[str, Any], signature: Signature) -> dict[str, Any]:
    keys = set(document) & {"inputs", "instances"}
    if len(keys) != 1 or set(document) - keys:
        raise TensorError('the input must have exactly one of "inputs" (named tensors) or "instances" (rows)')
    if "inputs" in document:
        named = document["inputs"]
        if not isinstance(named, dict):
            raise TensorError('"inputs" must map input names to nested lists')
        return dict(named)
    if len(signature.inputs) != 1:
        names = ", ".join(spec.name for spec in signature.inputs)
        raise TensorError(f'"instances" needs a model with one input; this one has {names}: use "inputs"')
    return {signature.inputs[0].name: document["instances"]}


def request_of(document: Mapping[str, Any], signature: Signature) -> oip.InferenceRequest:
    """The inference request of a `/engine/predict` input (TensorError when it cannot be one)."""
    inputs = []
    for name, data in _named(document, signature).items():
        spec = signature.input(name)
        if spec is None:
            raise TensorError(f"unknown input {name!r}")
        inputs.append(
            oip.RequestInput(name=name, shape=shape_of(name, data), datatype=spec.datatype, data=data)
        )
    return oip.InferenceRequest(inputs=inputs)


def nested(array: tensors.Array) -> Any:
    """An output as nested lists (BYTES as text)."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    if tensors.datatype_of(array) != "BYTES":
        return array.tolist()
    text = np.empty(array.size, dtype=object)
    text[:] = tensors.to_json(array)
    return text.reshape(array.shape).tolist()
