"""Codecs of the OpenAI embeddings protocol: vectors to `float` lists or `base64` (little-endian float32
bytes, what OpenAI's clients decode), in one place."""

from __future__ import annotations

import base64

from neuroedge_runtime.embeddings.model import Matrix


def encode_rows(vectors: Matrix, encoding_format: str) -> list[list[float]] | list[str]:
    """Each row as a list of floats or as base64 of its little-endian float32 bytes."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    if encoding_format == "base64":
        rows = np.ascontiguousarray(vectors, dtype="<f4")
        return [base64.b64encode(row.tobytes()).decode("ascii") for row in rows]
    floats: list[list[float]] = vectors.astype(np.float64).tolist()
    return floats


def decode_base64(text: str) -> list[float]:
    """The vector of a base64 embedding (as an external provider may answer)."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    values: list[float] = np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float64).tolist()
    return values
