"""Open Inference Protocol v2 codecs: every datatype both ways, JSON flat and nested, the binary extension,
and each malformed-tensor case with its message."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest

from neuroedge_runtime.serving import oip, tensors
from neuroedge_runtime.serving.sessions import Signature, TensorSpec
from neuroedge_runtime.serving.tensors import TensorError

SIGNATURE = Signature(
    inputs=(TensorSpec("x", "FP32", (-1, 2)), TensorSpec("tag", "BYTES", (-1,))),
    outputs=(TensorSpec("y", "FP32", (-1,)), TensorSpec("label", "INT64", (-1,))),
)
SAMPLES: dict[str, list[Any]] = {
    "BOOL": [True, False, True, True],
    "INT8": [-128, 0, 5, 127],
    "INT16": [-32768, 1, 2, 32767],
    "INT32": [-(2**31), 0, 1, 2**31 - 1],
    "INT64": [-(2**63), 0, 1, 2**63 - 1],
    "UINT8": [0, 1, 2, 255],
    "UINT16": [0, 1, 2, 65535],
    "UINT32": [0, 1, 2, 2**32 - 1],
    "UINT64": [0, 1, 2, 2**64 - 1],
    "FP16": [0.5, -1.25, 2.0, 65504.0],
    "FP32": [0.1, -2.5, 3.0, 1e30],
    "FP64": [0.1, -2.5, 3.0, 1e300],
    "BYTES": ["a", "", "héllo", "x" * 300],
}


@pytest.mark.parametrize("datatype", sorted(SAMPLES))
def test_every_datatype_round_trips_in_json_and_binary(datatype: str) -> None:
    values = SAMPLES[datatype]
    nested = [values[:2], values[2:]]
    array = tensors.from_json("t", datatype, [2, 2], nested)
    assert array.shape == (2, 2)
    assert tensors.datatype_of(array) == datatype
    if datatype.startswith("FP"):
        assert tensors.to_json(array) == pytest.approx(values, rel=1e-3)
    else:
        assert tensors.to_json(array) == values
    again = tensors.from_binary("t", datatype, [2, 2], tensors.to_binary(array))
    assert again.tolist() == array.tolist()
    assert tensors.from_json("t", datatype, [2, 2], values).tolist() == array.tolist()


def test_binary_layout_is_triton_s() -> None:
    assert tensors.to_binary(np.array([1.0, 2.0], dtype=np.float32)) == struct.pack("<2f", 1.0, 2.0)
    packed = tensors.to_binary(tensors.from_json("t", "BYTES", [2], ["ab", "c"]))
    assert packed == b"\x02\x00\x00\x00ab\x01\x00\x00\x00c"


@pytest.mark.parametrize(
    ("datatype", "data", "message"),
    [
        ("INT32", [1.5, 2], "needs integers"),
        ("INT8", [1, 300], "out of the range of INT8"),
        ("UINT8", [-1, 3], "out of the range of UINT8"),
        ("BOOL", [1, 0], "needs true/false"),
        ("FP32", ["1", 2], "needs numbers"),
        ("FP32", [True, 2], "needs numbers"),
        ("BYTES", [1, 2], "needs strings"),
    ],
)
def test_values_of_the_wrong_type_are_refused(datatype: str, data: list[Any], message: str) -> None:
    with pytest.raises(TensorError, match=message):
        tensors.from_json("t", datatype, [2], data)


def test_binary_data_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(TensorError, match="needs 8 bytes but 7 were sent"):
        tensors.from_binary("t", "FP32", [2], b"\x00" * 7)
    with pytest.raises(TensorError, match="runs past the end"):
        tensors.from_binary("t", "BYTES", [1], b"\x05\x00\x00\x00ab")
    with pytest.raises(TensorError, match="holds 2 elements but data has 1"):
        tensors.from_binary("t", "BYTES", [2], b"\x01\x00\x00\x00a")


def request(inputs: list[dict[str, Any]], **extra: Any) -> oip.InferenceRequest:
    return oip.InferenceRequest.model_validate({"inputs": inputs, **extra})


X = {"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}
TAG = {"name": "tag", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}


def test_decode_returns_arrays_all_outputs_and_echoes_the_id() -> None:
    decoded = oip.decode(request([X, TAG], id="req-1"), b"", SIGNATURE)
    assert decoded.id == "req-1" and decoded.rows == 2
    assert decoded.inputs["x"].dtype == np.float32 and decoded.inputs["x"].tolist() == [[1, 2], [3, 4]]
    assert decoded.outputs == ["y", "label"] and decoded.binary == frozenset()


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ([X, TAG, {**TAG, "name": "extra"}], "unknown input 'extra'"),
        ([{**X, "datatype": "FP64"}, TAG], "datatype FP64 given, the model expects FP32"),
        ([{**X, "shape": [2, 3]}, TAG], r"shape \[2, 3\] does not fit the model's \[-1, 2\]"),
        ([{**X, "shape": [4]}, TAG], r"shape \[4\] does not fit"),
        ([{**X, "shape": [3, 2]}, TAG], "shape \\[3, 2\\] holds 6 elements but data has 4"),
        ([X], "missing input 'tag'"),
        ([X, X, TAG], "input 'x' is given twice"),
        ([{**X, "data": None}, TAG], "has neither data nor binary_data_size"),
        ([X, {**TAG, "shape": [3], "data": ["a", "b", "c"]}], "disagree on the batch size"),
    ],
)
def test_each_malformed_request_is_refused_with_a_message_that_names_it(
    inputs: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(TensorError, match=message):
        oip.decode(request(inputs), b"", SIGNATURE)


def test_unknown_requested_output_is_refused() -> None:
    with pytest.raises(TensorError, match="unknown output 'z'"):
        oip.decode(request([X, TAG], outputs=[{"name": "z"}]), b"", SIGNATURE)


def test_parse_refuses_bad_json_and_bad_header_length() -> None:
    with pytest.raises(TensorError, match="not valid JSON"):
        oip.parse(b"{", None)
    with pytest.raises(TensorError, match="byte count within the body"):
        oip.parse(b"{}", "99")
    with pytest.raises(TensorError, match="inputs"):
        oip.parse(b'{"inputs": []}', None)


def binary_body(header: dict[str, Any], *parts: bytes) -> tuple[bytes, str]:
    head = json.dumps(header).encode()
    return head + b"".join(parts), str(len(head))


def test_binary_extension_request_and_response() -> None:
    x = np.array([[1, 2], [3, 4]], dtype=np.float32)
    tag = tensors.from_json("tag", "BYTES", [2], ["a", "bc"])
    body, length = binary_body(
        {
            "inputs": [
                {**X, "data": None, "parameters": {"binary_data_size": 16}},
                {**TAG, "data": None, "parameters": {"binary_data_size": 11}},
            ],
            "outputs": [{"name": "label", "parameters": {"binary_data": True}}, {"name": "y"}],
        },
        tensors.to_binary(x),
        tensors.to_binary(tag),
    )
    parsed, tail = oip.parse(body, length)
    decoded = oip.decode(parsed, tail, SIGNATURE)
    assert decoded.inputs["x"].tolist() == x.tolist()
    assert decoded.inputs["tag"].tolist() == [b"a", b"bc"]
    assert decoded.outputs == ["label", "y"] and decoded.binary == {"label"}
    results = {"label": np.array([7, 8], dtype=np.int64), "y": np.array([0.5, 1.5], dtype=np.float32)}
    encoded = oip.encode("m", "v1", decoded, results)
    assert encoded.header_length is not None
    header = json.loads(encoded.body[: encoded.header_length])
    assert header["outputs"][0] == {
        "name": "label",
        "datatype": "INT64",
        "shape": [2],
        "parameters": {"binary_data_size": 16},
    }
    assert header["outputs"][1]["data"] == [0.5, 1.5]
    assert np.frombuffer(encoded.body[encoded.header_length :], "<i8").tolist() == [7, 8]


def test_binary_data_output_makes_every_output_binary() -> None:
    decoded = oip.decode(request([X, TAG], parameters={"binary_data_output": True}), b"", SIGNATURE)
    assert decoded.binary == {"y", "label"}


@pytest.mark.parametrize(
    ("size", "tail", "message"),
    [
        (17, b"\x00" * 16, "runs past the end of the body"),
        (16, b"\x00" * 24, "8 bytes of binary data belong to no input"),
        (-1, b"", "must be a byte count"),
    ],
)
def test_binary_sizes_that_do_not_add_up_are_refused(size: int, tail: bytes, message: str) -> None:
    inputs = [{**X, "data": None, "parameters": {"binary_data_size": size}}, TAG]
    with pytest.raises(TensorError, match=message):
        oip.decode(request(inputs), tail, SIGNATURE)
