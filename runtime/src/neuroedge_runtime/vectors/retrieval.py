"""`engines.retrieval.Retriever` over the vector service: text search in a tenant's index, hits as passages
(text from the payload's `text`, source from its `document` when it was ingested, else the point id)."""

from __future__ import annotations

from neuroedge_runtime import problems
from neuroedge_runtime.engines import base
from neuroedge_runtime.engines.retrieval import Passage
from neuroedge_runtime.llm import retrieval as llm_retrieval
from neuroedge_runtime.vectors import ingestion, models
from neuroedge_runtime.vectors.service import VectorService


class IndexRetriever:
    """Retrieves passages from the tenant's VectorIndexes."""

    def __init__(self, service: VectorService) -> None:
        self._service = service

    async def retrieve(self, tenant: str, index: str, query: str, top_k: int) -> list[Passage]:
        request = models.SearchRequest(index=index, text=query, top_k=top_k)
        try:
            found = await self._service.search(tenant, request)
        except problems.Problem as exc:
            if exc.status < 500:  # no such index, or one without a model: the Engine's config is wrong
                raise base.EngineInputError(f"config.vectorIndex {index}: {exc.detail}") from None
            raise
        return [
            Passage(
                id=hit.id,
                text=str(hit.payload.get(models.TEXT_FIELD, "")),
                score=hit.score,
                source=str(hit.payload.get(ingestion.DOCUMENT_FIELD, hit.id)),
            )
            for hit in found.hits
            if hit.payload.get(models.TEXT_FIELD)
        ]


class GatewaySearch:
    """`llm.retrieval.TextSearch` over an IndexRetriever: the LLM gateway's retrieval for Engines with
    `config.vectorIndex` (passages carry their point ids, which the prompt cites and `sources` return)."""

    def __init__(self, retriever: IndexRetriever) -> None:
        self._retriever = retriever

    async def __call__(self, tenant: str, index: str, query: str, top_k: int) -> list[llm_retrieval.Passage]:
        try:
            found = await self._retriever.retrieve(tenant, index, query, top_k)
        except base.EngineInputError as exc:
            raise llm_retrieval.RetrievalError(str(exc)) from None
        return [llm_retrieval.Passage(p.id, p.text, p.score) for p in found]
