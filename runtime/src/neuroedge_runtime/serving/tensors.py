"""Tensors of the Open Inference Protocol v2 and numpy arrays, both ways, in JSON and in Triton's binary
tensor data extension. Pure: every malformed tensor is a `TensorError` naming the tensor and what is wrong."""

from __future__ import annotations

import functools
import math
import struct
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Array: TypeAlias = "npt.NDArray[Any]"
"""A numpy array (a string alias: numpy itself is imported on first use, never at start-up)."""

DTYPE_CODES = {
    "BOOL": "?",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    "BYTES": "O",
}
"""OIP datatype -> numpy dtype code (little-endian, the byte order of the binary extension)."""


@functools.cache
def dtype(datatype: str) -> np.dtype[Any]:
    """The numpy dtype of an OIP datatype."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    return np.dtype(DTYPE_CODES[datatype])


ONNX_TYPES = {
    "tensor(bool)": "BOOL",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(string)": "BYTES",
}
"""ONNX Runtime's type names of the tensors it can serve -> OIP datatype."""

_LENGTH = struct.Struct("<I")


class TensorError(ValueError):
    """A tensor of a request is malformed (answered 400)."""


def element_count(shape: list[int]) -> int:
    """How many elements a tensor of `shape` holds."""
    return math.prod(shape)


def datatype_of(array: Array) -> str:
    """The OIP datatype of an array ONNX Runtime returned."""
    if array.dtype == object or array.dtype.kind in "US":
        return "BYTES"
    return _datatype_of_dtype(array.dtype)


@functools.cache
def _datatype_of_dtype(numpy_type: np.dtype[Any]) -> str:
    """Looked up once per numpy type (every response asks it of every output)."""
    for name in DTYPE_CODES:
        if name != "BYTES" and numpy_type.newbyteorder("<") == dtype(name):
            return name
    raise TensorError(f"numpy type {numpy_type} has no OIP datatype")


def _flatten(data: Any, out: list[Any]) -> None:
    if isinstance(data, list):
        for item in data:
            _flatten(item, out)
    else:
        out.append(data)


def _elements(data: Any) -> tuple[list[Any], set[type]]:
    """The flat row-major values of `data` and the set of their Python types. A flat list (what clients send
    for one row, and what tritonclient sends always) is taken as it is: its types are collected in one C-level
    pass, and only a list holding lists is flattened element by element."""
    values = data if isinstance(data, list) else [data]
    kinds = set(map(type, values))
    if list in kinds:
        values = []
        _flatten(data, values)
        kinds = set(map(type, values))
    return values, kinds


_ELEMENT_TYPES: dict[str, tuple[frozenset[type], str]] = {
    "BYTES": (frozenset({str}), "strings"),
    "BOOL": (frozenset({bool}), "true/false"),
    **{name: (frozenset({int}), "integers") for name in DTYPE_CODES if name.startswith(("INT", "UINT"))},
    **{name: (frozenset({int, float}), "numbers") for name in DTYPE_CODES if name.startswith("FP")},
}
"""OIP datatype -> the JSON value types its data may hold (exact types: a JSON `true` is no number), and how
the error names them."""


def _check_elements(name: str, datatype: str, values: list[Any], kinds: set[type]) -> None:
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    allowed, expected = _ELEMENT_TYPES[datatype]
    if not kinds <= allowed:
        raise TensorError(f"input {name!r}: datatype {datatype} needs {expected} as data")
    if datatype.startswith(("INT", "UINT")):
        info = np.iinfo(dtype(datatype))
        if values and (min(values) < info.min or max(values) > info.max):
            raise TensorError(f"input {name!r}: a value is out of the range of {datatype}")


def from_json(name: str, datatype: str, shape: list[int], data: Any) -> Array:
    """The array of a JSON tensor; `data` is flat or nested row-major."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    values, kinds = _elements(data)
    expected = element_count(shape)
    if len(values) != expected:
        raise TensorError(
            f"input {name!r}: shape {shape} holds {expected} elements but data has {len(values)}"
        )
    _check_elements(name, datatype, values, kinds)
    if datatype == "BYTES":
        encoded = np.empty(len(values), dtype=object)
        encoded[:] = [v.encode() for v in values]
        return encoded.reshape(shape)
    return np.array(values, dtype=dtype(datatype)).reshape(shape)


def from_binary(name: str, datatype: str, shape: list[int], raw: bytes) -> Array:
    """The array of a tensor sent in the binary extension (BYTES: each element a 4-byte little-endian length
    then its bytes; other types: the raw little-endian elements)."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    expected = element_count(shape)
    if datatype == "BYTES":
        elements = _split_bytes(name, raw)
        if len(elements) != expected:
            raise TensorError(
                f"input {name!r}: shape {shape} holds {expected} elements but data has {len(elements)}"
            )
        array = np.empty(len(elements), dtype=object)
        array[:] = elements
        return array.reshape(shape)
    element = dtype(datatype)
    if len(raw) != expected * element.itemsize:
        raise TensorError(
            f"input {name!r}: shape {shape} of {datatype} needs {expected * element.itemsize} bytes "
            f"but {len(raw)} were sent"
        )
    return np.frombuffer(raw, dtype=element).reshape(shape)


def _split_bytes(name: str, raw: bytes) -> list[bytes]:
    elements: list[bytes] = []
    offset = 0
    while offset < len(raw):
        if offset + _LENGTH.size > len(raw):
            raise TensorError(f"input {name!r}: truncated BYTES element length")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += _LENGTH.size
        if offset + length > len(raw):
            raise TensorError(f"input {name!r}: a BYTES element runs past the end of its data")
        elements.append(raw[offset : offset + length])
        offset += length
    return elements


def to_json(array: Array) -> list[Any]:
    """The flat row-major JSON data of an output (BYTES as UTF-8 text)."""
    flat = array.reshape(-1)
    if datatype_of(array) != "BYTES":
        return list(flat.tolist())
    return [v.decode() if isinstance(v, bytes) else str(v) for v in flat]


def to_binary(array: Array) -> bytes:
    """The binary-extension bytes of an output."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    if datatype_of(array) != "BYTES":
        return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    parts: list[bytes] = []
    for value in array.reshape(-1):
        data = value if isinstance(value, bytes) else str(value).encode()
        parts += [_LENGTH.pack(len(data)), data]
    return b"".join(parts)
