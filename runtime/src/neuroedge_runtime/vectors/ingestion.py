"""Ingestion of documents into a text-embedded index (pure parts): request models, the split of a request into
jobs, and the chunk records of a document.

A document becomes chunks `<document id>#<n>` (n from 0) whose payload is the document's payload plus
`document`, `chunk` and `text`. Ids are deterministic, so re-running a job (a worker killed midway, a retry)
upserts the same points again and never duplicates one; after its upsert a job deletes the chunks of its
documents that the new text no longer has, so re-ingesting a document replaces its chunks.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)

from neuroedge_runtime.embeddings import chunking
from neuroedge_runtime.vectors import models

MAX_DOCUMENTS = 10_000
"""Documents per request."""
CHUNKS_PER_JOB = 512
"""Chunks a job embeds and upserts (the unit of retry and of progress)."""
DOCUMENT_FIELD = "document"
CHUNK_FIELD = "chunk"
_RESERVED = (DOCUMENT_FIELD, CHUNK_FIELD, models.TEXT_FIELD)

DocumentId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^#]+$")]


class Document(BaseModel):
    """One document: its id (no '#', which separates the chunk number), text and payload."""

    model_config = ConfigDict(extra="forbid")
    id: DocumentId
    text: Annotated[str, StringConstraints(min_length=1, max_length=50_000)]
    payload: dict[str, JsonValue] = Field(default_factory=dict)

    @field_validator("payload")
    @classmethod
    def _not_reserved(cls, payload: dict[str, JsonValue]) -> dict[str, JsonValue]:
        taken = [k for k in _RESERVED if k in payload]
        if taken:
            raise ValueError(f"payload fields {', '.join(taken)} are set by ingestion")
        return payload


class ChunkingIn(BaseModel):
    """How documents are split: chunk size and overlap in characters."""

    model_config = ConfigDict(extra="forbid")
    size: int = Field(default=1000, ge=50, le=20_000)
    overlap: int = Field(default=200, ge=0)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingIn:
        if self.overlap >= self.size:
            raise ValueError("overlap must be smaller than size")
        return self

    def settings(self) -> chunking.Chunking:
        return chunking.Chunking(self.size, self.overlap)


class IngestRequest(BaseModel):
    """Documents to split, embed and upsert into one text-embedded index, in the background."""

    model_config = ConfigDict(extra="forbid")
    index: models.IndexName
    documents: list[Document] = Field(min_length=1, max_length=MAX_DOCUMENTS)
    chunking: ChunkingIn = Field(default_factory=ChunkingIn)

    @field_validator("documents")
    @classmethod
    def _unique_ids(cls, documents: list[Document]) -> list[Document]:
        return models.unique_ids(documents, "document ids must be unique within a request")


class JobInput(BaseModel):
    """The input of one ingestion job (a slice of a request's documents)."""

    model_config = ConfigDict(extra="forbid")
    index: models.IndexName
    documents: list[Document]
    chunking: ChunkingIn


def chunk_id(document: str, number: int) -> str:
    """The point id of a document's chunk."""
    return f"{document}#{number}"


def chunks(document: Document, settings: chunking.Chunking) -> list[str]:
    """The chunk texts of a document."""
    return chunking.split(document.text, settings)


def plan_jobs(request: IngestRequest) -> list[tuple[JobInput, int]]:
    """Split a request into jobs of about CHUNKS_PER_JOB chunks (whole documents each), with each job's chunk
    count; a document with no visible text counts zero chunks (and removes its old ones)."""
    settings = request.chunking.settings()
    planned: list[tuple[JobInput, int]] = []
    batch: list[Document] = []
    count = 0
    for document in request.documents:
        n = len(chunks(document, settings))
        if batch and count + n > CHUNKS_PER_JOB:
            planned.append((JobInput(index=request.index, documents=batch, chunking=request.chunking), count))
            batch, count = [], 0
        batch.append(document)
        count += n
    planned.append((JobInput(index=request.index, documents=batch, chunking=request.chunking), count))
    return planned


def records(document: Document, texts: list[str], vectors: list[list[float]]) -> list[models.Record]:
    """The points of a document's chunks."""
    return [
        models.Record(
            chunk_id(document.id, n),
            vector,
            {**document.payload, DOCUMENT_FIELD: document.id, CHUNK_FIELD: n, models.TEXT_FIELD: text},
        )
        for n, (text, vector) in enumerate(zip(texts, vectors, strict=True))
    ]


def describe(result: Any) -> int:
    """The chunk count a finished job reports (0 for anything else)."""
    if isinstance(result, dict) and isinstance(result.get("chunks"), int):
        return int(result["chunks"])
    return 0
