"""Embedders: what turns texts into vectors for the endpoints and the vector service, whatever runs the model.

`BuiltinEmbedder` runs `wordllama-256` in this process (through the batcher); `embeddings.openai_client`
calls any OpenAI-compatible `/v1/embeddings` server. Both return unit-length float32 rows.
"""

from __future__ import annotations

from typing import Protocol

from neuroedge_runtime.embeddings import model
from neuroedge_runtime.embeddings.batcher import Batcher
from neuroedge_runtime.embeddings.model import Encoded


class EmbeddingError(RuntimeError):
    """The embedding model could not embed the texts (an external provider failed or answered nonsense)."""


class Embedder(Protocol):
    """One embedding model."""

    @property
    def model_id(self) -> str:
        """The model's id (what `/v1/embeddings` and `spec.embedding.model` name)."""
        ...

    @property
    def dimension(self) -> int:
        """Length of the vectors it returns."""
        ...

    @property
    def truncatable(self) -> bool:
        """True when a prefix of a vector is an embedding too (OpenAI's `dimensions` parameter)."""
        ...

    async def embed(self, texts: list[str]) -> Encoded:
        """Vectors (one row per text, in order) and token counts; EmbeddingError when it cannot."""
        ...


class BuiltinEmbedder:
    """The built-in model behind the process's batcher."""

    model_id = model.MODEL_ID
    dimension = model.DIMENSION
    truncatable = True
    """Matryoshka-trained: a prefix of a vector is an embedding (`dimensions` is allowed)."""

    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher

    async def embed(self, texts: list[str]) -> Encoded:
        return await self._batcher.encode(texts)
