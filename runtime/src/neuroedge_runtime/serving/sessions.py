"""An ONNX model loaded into one ONNX Runtime session, with the signature the protocol validates against.

Everything here is synchronous and may take long (loading parses the graph; `run` is the inference): the
serving service calls it in its executor, never on the event loop. ONNX Runtime releases the GIL while it
runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from neuroedge_queue import heaptrim
from neuroedge_runtime.serving import tensors

if TYPE_CHECKING:
    import onnxruntime


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model: name, OIP datatype, shape (-1 for a dimension of any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def describe(self) -> dict[str, Any]:
        """The JSON of the tensor in model metadata and in the Engine's status."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}

    @property
    def batched(self) -> bool:
        """Whether the first dimension takes any size (the batcher may stack requests along it)."""
        return bool(self.shape) and self.shape[0] == -1


@dataclass(frozen=True)
class Signature:
    """The tensors a model reads and the tensors (of a type the protocol can carry) it writes."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def input(self, name: str) -> TensorSpec | None:
        """The input called `name`, if any."""
        return next((spec for spec in self.inputs if spec.name == name), None)

    def output_names(self) -> list[str]:
        """Names of the outputs, in the model's order."""
        return [spec.name for spec in self.outputs]


class InvalidModelError(ValueError):
    """The bytes are not an ONNX model this runtime can serve."""


def _dim(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else -1


def _spec(node: Any) -> TensorSpec | None:
    datatype = tensors.ONNX_TYPES.get(node.type)
    if datatype is None:
        return None
    return TensorSpec(node.name, datatype, tuple(_dim(d) for d in node.shape))


def _signature(session: onnxruntime.InferenceSession) -> Signature:
    inputs = [_spec(node) for node in session.get_inputs()]
    if any(spec is None for spec in inputs):
        kinds = ", ".join(f"{n.name}: {n.type}" for n in session.get_inputs())
        raise InvalidModelError(f"the model has an input that is not a tensor the protocol carries ({kinds})")
    outputs = tuple(spec for spec in (_spec(node) for node in session.get_outputs()) if spec is not None)
    if not outputs:
        raise InvalidModelError("the model has no tensor output")
    return Signature(tuple(s for s in inputs if s is not None), outputs)


# Loads take turns so that the resident memory a load adds is that model's alone (the cache charges it).
_LOADING = threading.Lock()
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int | None:
    """The process's resident memory now (Linux `/proc/self/statm`); None where it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def charged_size(file_size: int, before: int | None, after: int | None) -> int:
    """What a loaded model counts against the memory cap: the resident memory its load added, never less
    than its file (a tree ensemble's session is several times its serialized size; counting the file alone
    let the cap be overrun by that factor)."""
    if before is None or after is None:
        return file_size
    return max(file_size, after - before)


class Session:
    """A loaded model: its session, signature, digest and size (bytes charged against the memory cap)."""

    def __init__(self, model: bytes, digest: str, intra_op_threads: int) -> None:
        # Imported on first load: a runtime or worker that serves no model never pays for ONNX Runtime.
        import onnxruntime  # noqa: PLC0415

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        with _LOADING:
            heaptrim.trim()
            before = resident_bytes()
            try:
                self._session = onnxruntime.InferenceSession(
                    model, sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types
                raise InvalidModelError(f"ONNX Runtime cannot load the model: {exc}") from None
            heaptrim.trim()  # and what the parse freed again, so that only what the session keeps counts
            self.size = charged_size(len(model), before, resident_bytes())
        self.signature = _signature(self._session)
        self.digest = digest

    def run(self, inputs: Mapping[str, tensors.Array], outputs: list[str]) -> dict[str, tensors.Array]:
        """The named outputs for `inputs` (already validated against the signature)."""
        feed = {name: _native(array) for name, array in inputs.items()}
        results = self._session.run(outputs, feed)
        return dict(zip(outputs, results, strict=True))


def _native(array: tensors.Array) -> tensors.Array:
    """ONNX Runtime reads string tensors as str objects, not bytes."""
    if array.dtype == object:
        decoded = array.reshape(-1).copy()
        decoded[:] = [v.decode() if isinstance(v, bytes) else v for v in decoded]
        return decoded.reshape(array.shape)
    return array
