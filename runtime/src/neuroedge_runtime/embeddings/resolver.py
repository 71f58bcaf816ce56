"""Which embedder serves a VectorIndex: the built-in model, or an external OpenAI-compatible provider named by
the index's registry row (`spec.embedding`)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from neuroedge_runtime.embeddings import openai_client
from neuroedge_runtime.embeddings.providers import Embedder


@dataclass(frozen=True)
class EmbeddingConfig:
    """An index's embedding model, as its registry row holds it."""

    model: str
    provider: str
    base_url: str | None = None
    api_key: str | None = None


class UnknownModelError(LookupError):
    """The index names a built-in model this runtime does not have."""


class Resolver:
    """Built-in embedders by model id, and an HTTP session for external providers (both process-wide)."""

    def __init__(self, builtin: dict[str, Embedder], session: aiohttp.ClientSession | None) -> None:
        self._builtin = builtin
        self._session = session

    def for_index(self, config: EmbeddingConfig, dimension: int) -> Embedder:
        """The embedder of an index whose vectors have `dimension` components."""
        if config.provider == "openai" and config.base_url and self._session is not None:
            return openai_client.OpenAIEmbedder(
                self._session, config.base_url, config.model, dimension, config.api_key
            )
        embedder = self._builtin.get(config.model)
        if embedder is None:
            raise UnknownModelError(f"this runtime has no built-in embedding model {config.model!r}")
        return embedder
