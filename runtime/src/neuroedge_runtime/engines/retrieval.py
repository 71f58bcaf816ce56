"""What engines retrieve passages through: a `Retriever` finds the chunks of a tenant's VectorIndex nearest
to a query text. The engines hold the logic; `vectors.retrieval` implements it with the vector service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk: its point id, text, similarity score and the document it came from."""

    id: str
    text: str
    score: float
    source: str


class Retriever(Protocol):
    """Nearest passages of a tenant's index (raises `base.EngineInputError` when the index cannot be used)."""

    async def retrieve(self, tenant: str, index: str, query: str, top_k: int) -> list[Passage]: ...
