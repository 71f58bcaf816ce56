"""The `vector.ingest` job handler a worker runs: chunk its documents, embed the chunks in batches, upsert
them and remove the chunks the documents no longer have. The tenant is the worker's own (a job cannot name
another), and every step is idempotent, so a job re-run after a crash leaves exactly the same points."""

from __future__ import annotations

import pydantic

from neuroedge_runtime import problems
from neuroedge_runtime.engines import base, registry
from neuroedge_runtime.vectors import ingestion, models
from neuroedge_runtime.vectors.service import VectorService

ENGINE = "vector.ingest"
"""The named handler ingestion jobs run."""
EMBED_BATCH = 256
"""Chunks embedded per model call (keeps one job from holding the model for long)."""


def _input(value: pydantic.JsonValue) -> ingestion.JobInput:
    try:
        return ingestion.JobInput.model_validate(value)
    except pydantic.ValidationError as exc:
        raise base.EngineInputError(f"invalid ingestion job: {ingestion_error(exc)}") from None


def ingestion_error(exc: pydantic.ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


async def ingest(service: VectorService, tenant: str, job: ingestion.JobInput) -> dict[str, int]:
    """Run one ingestion job for `tenant`; returns the documents and chunks it wrote."""
    info = await service.index(tenant, job.index)
    settings = job.chunking.settings()
    pieces = [(document, ingestion.chunks(document, settings)) for document in job.documents]
    texts = [text for _, chunk_texts in pieces for text in chunk_texts]
    vectors: list[list[float]] = []
    for first in range(0, len(texts), EMBED_BATCH):
        part = texts[first : first + EMBED_BATCH]
        vectors += await service.embed(info, part, [["documents"]] * len(part))
    records: list[models.Record] = []
    for document, chunk_texts in pieces:
        start = len(records)
        records += ingestion.records(document, chunk_texts, vectors[start : start + len(chunk_texts)])
    if records:
        await service.upsert(info, records)
    await service.delete_stale(info, [d.id for d in job.documents], [r.id for r in records])
    return {"documents": len(job.documents), "chunks": len(records)}


def handler(service: VectorService, tenant: str) -> registry.Handler:
    """The `vector.ingest` handler of a worker of `tenant`."""

    async def run(value: pydantic.JsonValue) -> pydantic.JsonValue:
        try:
            result = await ingest(service, tenant, _input(value))
        except problems.Problem as exc:
            if exc.status < 500:  # the index is gone or lost its model: no retry can help
                raise base.EngineInputError(exc.detail) from None
            raise RuntimeError(exc.detail) from None  # retried (storage or provider unavailable)
        return dict(result)

    return run
