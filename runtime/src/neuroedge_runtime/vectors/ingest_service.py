"""`POST /vector/ingest` and `GET /vector/ingest/{ingestion_id}`: accept documents for a text-embedded index
as jobs of the runtime's worker pool, and report their progress.

An ingestion is a record in the tenant's queue key space (`<prefix>ingest:<id>`: the index, the jobs and each
job's chunk count) next to its jobs; progress is summed from the jobs' states, so it is exactly what the
workers have committed: `chunks_done` counts the chunks of succeeded jobs.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal, cast

import redis.asyncio as aioredis
from pydantic import BaseModel

from neuroedge_queue import jobs, keys, producer
from neuroedge_runtime import problems
from neuroedge_runtime.vectors import ingest_worker, ingestion
from neuroedge_runtime.vectors.service import VectorService

IngestionStatus = Literal["running", "succeeded", "failed"]


class IngestionOut(BaseModel):
    """An ingestion's progress; `errors` are the failed jobs' messages."""

    id: str
    index: str
    status: IngestionStatus
    documents: int
    jobs: int
    chunks_total: int
    chunks_done: int
    errors: list[str] = []


def summarise(
    ingestion_id: str,
    record: dict[str, str],
    states: list[jobs.JobState | None],
) -> IngestionOut:
    """The progress of an ingestion from its record and its jobs' states (pure)."""
    planned = json.loads(record["jobs"])
    done = sum(
        chunks
        for (_, chunks), state in zip(planned, states, strict=True)
        if state is not None and state.status == jobs.Status.SUCCEEDED
    )
    errors = [
        s.error or "failed"
        for s in states
        if s is not None and s.status in (jobs.Status.FAILED, jobs.Status.DEAD)
    ]
    finished = all(s is not None and s.status in jobs.FINAL for s in states)
    status: IngestionStatus = "running"
    if finished:
        status = "failed" if errors else "succeeded"
    return IngestionOut(
        id=ingestion_id,
        index=record["index"],
        status=status,
        documents=int(record["documents"]),
        jobs=len(planned),
        chunks_total=int(record["chunks_total"]),
        chunks_done=done,
        errors=errors[:10],
    )


class IngestService:
    """Accepts ingestions into the runtime's pool and reads their progress, for one tenant at a time."""

    def __init__(
        self, vectors: VectorService, client: aioredis.Redis, pool: str | None, result_ttl: float
    ) -> None:
        self._vectors = vectors
        self._client = client
        self._pool = pool
        self._ttl_ms = int(result_ttl * 1000)

    def _keys(self, tenant: str) -> keys.QueueKeys:
        if not self._pool:
            raise problems.unavailable("this runtime has no worker pool for jobs (NEUROEDGE_POOL is not set)")
        return keys.QueueKeys(tenant, self._pool)

    def _producer(self, queue: keys.QueueKeys) -> producer.Producer:
        return producer.Producer(self._client, queue, self._ttl_ms / 1000)

    async def accept(self, tenant: str, request: ingestion.IngestRequest) -> IngestionOut:
        """Enqueue the request's jobs; 404 unknown index, 422 index without a model, 503 no pool."""
        info = await self._vectors.index(tenant, request.index)
        if info.embedding is None:
            raise problems.invalid(
                f"index {info.name} has no embedding model (spec.embedding), so it cannot ingest text",
                [{"loc": ["index"], "msg": "this index has no embedding model"}],
            )
        queue = self._keys(tenant)
        planned = ingestion.plan_jobs(request)
        requests = [
            producer.JobRequest(engine=ingest_worker.ENGINE, input=job.model_dump(mode="json"))
            for job, _ in planned
        ]
        try:
            enqueued = await self._producer(queue).enqueue_many(requests)
        except producer.JobTooLarge as exc:
            raise problems.payload_too_large(str(exc)) from None
        ingestion_id = jobs.new_job_id(int(time.time() * 1000))
        record = {
            "index": info.name,
            "documents": str(len(request.documents)),
            "chunks_total": str(sum(chunks for _, chunks in planned)),
            "jobs": json.dumps(
                [[e.job_id, chunks] for e, (_, chunks) in zip(enqueued, planned, strict=True)]
            ),
        }
        key = queue.prefix + "ingest:" + ingestion_id
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=cast("dict[Any, Any]", record))
            pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()
        return summarise(ingestion_id, record, [None] * len(planned))

    async def get(self, tenant: str, ingestion_id: str) -> IngestionOut:
        """An ingestion of the tenant; one 404 for malformed, unknown, expired and other tenants' ids."""
        if not keys.JOB_ID.match(ingestion_id) or not self._pool:
            raise problems.not_found("no such ingestion")
        queue = self._keys(tenant)
        raw = cast("dict[bytes, bytes]", await self._client.hgetall(queue.prefix + "ingest:" + ingestion_id))
        if not raw:
            raise problems.not_found("no such ingestion")
        record = {k.decode(): v.decode() for k, v in raw.items()}
        job_ids = [job_id for job_id, _ in json.loads(record["jobs"])]
        states = await self._producer(queue).get_many(job_ids)
        return summarise(ingestion_id, record, states)
