"""The Open Inference Protocol v2 inference request and response, with Triton's binary tensor data extension.

`parse` turns a raw body into a typed request and the binary tail; `decode` validates every input against the
model's signature (each error case is a `TensorError` with a message naming the tensor) and returns arrays;
`encode` renders the outputs as JSON or binary as the request asked. Pure: no model, no HTTP objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import pydantic
from pydantic import Field, JsonValue

from neuroedge_runtime.serving import tensors
from neuroedge_runtime.serving.sessions import Signature, TensorSpec
from neuroedge_runtime.serving.tensors import TensorError

HEADER_LENGTH = "Inference-Header-Content-Length"
"""Header of the binary extension: length of the JSON part of the body (the rest is tensor data)."""
BINARY_SIZE = "binary_data_size"


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class RequestInput(_Model):
    """One input tensor: data inline (JSON) or `parameters.binary_data_size` bytes of the binary tail."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    shape: list[Annotated[int, Field(ge=0)]] = Field(max_length=16)
    datatype: str
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    data: Any = None
    """Flat or nested JSON values, checked by `tensors.from_json` in one pass over the flat list (the body
    comes from orjson, so it holds JSON values only; pydantic's per-element JsonValue check cost more than the
    conversion)."""


class RequestOutput(_Model):
    """An output the caller wants; `parameters.binary_data` asks for it in binary."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    parameters: dict[str, JsonValue] = Field(default_factory=dict)


class InferenceRequest(_Model):
    """An inference request; `id` is echoed in the response."""

    id: str | None = None
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = None


@dataclass(frozen=True)
class Decoded:
    """A validated request: arrays by input name, the outputs to return and which of them go binary."""

    id: str | None
    inputs: dict[str, tensors.Array]
    outputs: list[str]
    binary: frozenset[str]

    @property
    def rows(self) -> int:
        """Size of the first dimension (the batcher's unit)."""
        first = next(iter(self.inputs.values()))
        return int(first.shape[0]) if first.ndim else 1


def parse(body: bytes, header_length: str | None) -> tuple[InferenceRequest, bytes]:
    """The request and the binary data after its JSON header (empty without the extension)."""
    split = len(body)
    if header_length is not None:
        if not header_length.isdigit() or int(header_length) > len(body):
            raise TensorError(f"{HEADER_LENGTH} must be a byte count within the body, not {header_length!r}")
        split = int(header_length)
    try:
        document = orjson.loads(body[:split])
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8
        raise TensorError(f"the inference request is not valid JSON: {exc}") from None
    try:
        return InferenceRequest.model_validate(document), body[split:]
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        raise TensorError(f"invalid inference request: {where}: {first['msg']}") from None


def _check_spec(tensor: RequestInput, spec: TensorSpec | None) -> TensorSpec:
    if spec is None:
        raise TensorError(f"unknown input {tensor.name!r}")
    if tensor.datatype != spec.datatype:
        raise TensorError(
            f"input {tensor.name!r}: datatype {tensor.datatype} given, the model expects {spec.datatype}"
        )
    fits = len(tensor.shape) == len(spec.shape) and all(
        want in (-1, got) for want, got in zip(spec.shape, tensor.shape, strict=True)
    )
    if not fits:
        raise TensorError(
            f"input {tensor.name!r}: shape {tensor.shape} does not fit the model's {list(spec.shape)}"
        )
    return spec


def _binary_size(tensor: RequestInput) -> int | None:
    size = tensor.parameters.get(BINARY_SIZE)
    if size is None:
        return None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise TensorError(f"input {tensor.name!r}: {BINARY_SIZE} must be a byte count")
    return size


def _array(tensor: RequestInput, tail: bytes, offset: int) -> tuple[tensors.Array, int]:
    size = _binary_size(tensor)
    if size is None:
        if tensor.data is None:
            raise TensorError(f"input {tensor.name!r} has neither data nor {BINARY_SIZE}")
        return tensors.from_json(tensor.name, tensor.datatype, tensor.shape, tensor.data), offset
    if tensor.data is not None:
        raise TensorError(f"input {tensor.name!r} has both data and {BINARY_SIZE}")
    if offset + size > len(tail):
        raise TensorError(f"input {tensor.name!r}: {BINARY_SIZE} runs past the end of the body")
    raw = tail[offset : offset + size]
    return tensors.from_binary(tensor.name, tensor.datatype, tensor.shape, raw), offset + size


def _wants_binary(flag: JsonValue, default: bool) -> bool:
    return flag if isinstance(flag, bool) else default


def _outputs(request: InferenceRequest, signature: Signature) -> tuple[list[str], frozenset[str]]:
    default = _wants_binary(request.parameters.get("binary_data_output"), False)
    if request.outputs is None:
        names = signature.output_names()
        return names, frozenset(names) if default else frozenset()
    known = set(signature.output_names())
    binary: set[str] = set()
    for output in request.outputs:
        if output.name not in known:
            raise TensorError(f"unknown output {output.name!r}")
        if _wants_binary(output.parameters.get("binary_data"), default):
            binary.add(output.name)
    names = [o.name for o in request.outputs]
    if len(set(names)) != len(names):
        raise TensorError("an output is requested twice")
    return names, frozenset(binary)


def decode(request: InferenceRequest, tail: bytes, signature: Signature) -> Decoded:
    """Validate `request` against `signature` and decode its tensors."""
    arrays: dict[str, tensors.Array] = {}
    offset = 0
    for tensor in request.inputs:
        if tensor.name in arrays:
            raise TensorError(f"input {tensor.name!r} is given twice")
        _check_spec(tensor, signature.input(tensor.name))
        arrays[tensor.name], offset = _array(tensor, tail, offset)
    if offset != len(tail):
        raise TensorError(f"{len(tail) - offset} bytes of binary data belong to no input")
    missing = [spec.name for spec in signature.inputs if spec.name not in arrays]
    if missing:
        raise TensorError(f"missing input {', '.join(repr(m) for m in missing)}")
    _check_rows(arrays, signature)
    outputs, binary = _outputs(request, signature)
    return Decoded(request.id, arrays, outputs, binary)


def _check_rows(arrays: Mapping[str, tensors.Array], signature: Signature) -> None:
    rows = {int(a.shape[0]) for name, a in arrays.items() if (s := signature.input(name)) and s.batched}
    if len(rows) > 1:
        raise TensorError(f"inputs disagree on the batch size (first dimension): {sorted(rows)}")


@dataclass(frozen=True)
class Encoded:
    """A rendered response: body, and the JSON header length when binary data follows it."""

    body: bytes
    header_length: int | None


def encode(model: str, version: str, request: Decoded, results: Mapping[str, tensors.Array]) -> Encoded:
    """The response of `results` for `request` (outputs in the order asked)."""
    outputs: list[dict[str, Any]] = []
    binary: list[bytes] = []
    for name in request.outputs:
        array = results[name]
        entry: dict[str, Any] = {
            "name": name,
            "datatype": tensors.datatype_of(array),
            "shape": list(array.shape),
        }
        if name in request.binary:
            raw = tensors.to_binary(array)
            entry["parameters"] = {BINARY_SIZE: len(raw)}
            binary.append(raw)
        else:
            entry["data"] = tensors.to_json(array)
        outputs.append(entry)
    document: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": outputs}
    if request.id is not None:
        document["id"] = request.id
    header = orjson.dumps(document)
    if not binary:
        return Encoded(header, None)
    return Encoded(header + b"".join(binary), len(header))


def metadata(model: str, version: str, signature: Signature) -> dict[str, Any]:
    """The model metadata response."""
    return {
        "name": model,
        "versions": [version],
        "platform": "onnxruntime_onnx",
        "inputs": [s.describe() for s in signature.inputs],
        "outputs": [s.describe() for s in signature.outputs],
    }
