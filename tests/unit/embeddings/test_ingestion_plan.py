"""Ingestion's pure parts: requests validated, split into jobs of whole documents, chunk records with
deterministic ids, and progress summed from the jobs' states."""

from __future__ import annotations

import json

import pydantic
import pytest

from neuroedge_queue import jobs
from neuroedge_runtime.queue import settings
from neuroedge_runtime.vectors import ingest_service, ingestion, models


def request(n: int, words: int = 30, **chunking: int) -> ingestion.IngestRequest:
    documents = [
        {"id": f"doc-{i}", "text": " ".join(f"w{i}x{j}" for j in range(words)), "payload": {"n": i}}
        for i in range(n)
    ]
    return ingestion.IngestRequest.model_validate(
        {"index": "kb", "documents": documents, "chunking": chunking or {"size": 100, "overlap": 20}}
    )


def test_jobs_hold_whole_documents_and_count_every_chunk() -> None:
    req = request(300)
    planned = ingestion.plan_jobs(req)
    settings = req.chunking.settings()
    assert sum(n for _, n in planned) == sum(len(ingestion.chunks(d, settings)) for d in req.documents)
    assert [d.id for job, _ in planned for d in job.documents] == [d.id for d in req.documents]
    assert all(n <= ingestion.CHUNKS_PER_JOB for _, n in planned) and len(planned) > 1


def test_records_have_deterministic_ids_and_payloads() -> None:
    doc = request(1).documents[0]
    texts = ingestion.chunks(doc, ingestion.ChunkingIn(size=100, overlap=20).settings())
    records = ingestion.records(doc, texts, [[0.0]] * len(texts))
    assert [r.id for r in records] == [f"doc-0#{i}" for i in range(len(texts))]
    assert records[1].payload == {"n": 0, "document": "doc-0", "chunk": 1, "text": texts[1]}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}, "unique"),
        ({"documents": [{"id": "a#1", "text": "x"}]}, "pattern"),
        ({"documents": [{"id": "a", "text": "x", "payload": {"chunk": 1}}]}, "set by ingestion"),
        ({"documents": [{"id": "a", "text": "x"}], "chunking": {"size": 100, "overlap": 100}}, "smaller"),
        ({"documents": []}, "at least 1"),
    ],
)
def test_bad_requests_are_refused(body: dict[str, object], fragment: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=fragment):
        ingestion.IngestRequest.model_validate({"index": "kb", **body})


def state(status: jobs.Status, error: str | None = None) -> jobs.JobState:
    return jobs.JobState(id="x", status=status, engine="vector.ingest", error=error)


def test_progress_counts_succeeded_jobs_only() -> None:
    record = {
        "index": "kb",
        "documents": "9",
        "chunks_total": "60",
        "jobs": json.dumps([["a", 10], ["b", 20], ["c", 30]]),
    }
    running = ingest_service.summarise(
        "i", record, [state(jobs.Status.SUCCEEDED), state(jobs.Status.RUNNING), None]
    )
    assert (running.status, running.chunks_done, running.chunks_total, running.jobs) == ("running", 10, 60, 3)
    done = ingest_service.summarise("i", record, [state(jobs.Status.SUCCEEDED)] * 3)
    assert (done.status, done.chunks_done) == ("succeeded", 60)
    failed = ingest_service.summarise(
        "i",
        record,
        [state(jobs.Status.SUCCEEDED), state(jobs.Status.DEAD, "boom"), state(jobs.Status.SUCCEEDED)],
    )
    assert (failed.status, failed.chunks_done, failed.errors) == ("failed", 40, ["boom"])


def test_workers_write_to_indexes_only_when_asked() -> None:
    base = {
        "REDIS_URL": "redis://x",
        "NEUROEDGE_TENANT": "acme",
        "NEUROEDGE_POOL": "p",
        "DATABASE_URL": "pg://x",
    }
    assert settings.from_env(base).database_url is None
    assert settings.from_env({**base, "NEUROEDGE_WORKER_VECTORS": "1"}).database_url == "pg://x"


def test_repeated_ids_in_one_request_are_refused_by_name() -> None:
    twice = [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]
    with pytest.raises(pydantic.ValidationError, match="document ids must be unique within a request"):
        ingestion.IngestRequest.model_validate({"index": "kb", "documents": twice})
    with pytest.raises(pydantic.ValidationError, match="point ids must be unique within a batch"):
        models.InsertRequest.model_validate({"index": "kb", "points": twice})
    assert len(ingestion.IngestRequest.model_validate({"index": "kb", "documents": twice[:1]}).documents) == 1
