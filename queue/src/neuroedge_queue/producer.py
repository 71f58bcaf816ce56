"""Enqueue jobs and read their state: what the API's `/engine/run`, the operator's schedules and tests call.

`enqueue` is one round trip: a Lua script that checks the idempotency key, adds the job to the stream and
writes its `queued` hash, atomically, so a repeated enqueue with the same key returns the first job's id
and never adds a second job. `enqueue_many` pipelines the same script for bulk producers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import pydantic
import redis.asyncio as aioredis
import redis.exceptions

from neuroedge_queue import jobs, keys, scripts, tracecontext

MAX_JOB_BYTES = 1 << 20
"""Largest encoded job (input included); bigger inputs belong in object storage, referenced by the input."""

ENQUEUE = scripts.LuaScript(
    """
-- KEYS: stream, job hash, [idempotency key]; ARGV: job id, payload, ttl ms, engine, enqueued_at
if KEYS[3] then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {existing, 0} end
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[3])
end
redis.call('XADD', KEYS[1], '*', 'job', ARGV[2])
redis.call('HSET', KEYS[2], 'status', 'queued', 'engine', ARGV[4], 'attempts', 0, 'enqueued_at', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {ARGV[1], 1}
"""
)


class JobTooLarge(ValueError):  # noqa: N818 - reads as what happened
    """The encoded job exceeds MAX_JOB_BYTES."""


@dataclass(frozen=True)
class JobRequest:
    """What a caller asks for; the producer turns it into a `jobs.Job`."""

    engine: str
    input: pydantic.JsonValue = None
    idempotency_key: str | None = None
    deadline: float | None = None
    kind: str | None = None
    """A tenant Engine's kind (see `jobs.Job.kind`); None for a named handler."""
    config: dict[str, pydantic.JsonValue] | None = None
    """The Engine's config the worker runs the kind with."""


@dataclass(frozen=True)
class Enqueued:
    """The id of the job, and whether this call created it (False: the idempotency key was already used)."""

    job_id: str
    created: bool


def build_job(
    request: JobRequest, now: float, job_id: str | None = None, traceparent: str | None = None
) -> jobs.Job:
    """The job for `request` (validated: engine name, idempotency key, JSON input), enqueued at `now`,
    carrying `traceparent` (the enqueuing span's trace context) when tracing is on."""
    if request.idempotency_key is not None:
        keys.check_idempotency_key(request.idempotency_key)
    try:
        return jobs.Job(
            id=job_id or jobs.new_job_id(int(now * 1000)),
            engine=request.engine,
            input=request.input,
            deadline=request.deadline,
            idempotency_key=request.idempotency_key,
            kind=request.kind,
            config=request.config,
            enqueued_at=now,
            traceparent=traceparent,
        )
    except pydantic.ValidationError as exc:
        raise jobs.JobDecodeError(jobs.first_error(exc)) from None


class Producer:
    """Adds jobs to one pool's queue and reads their state."""

    def __init__(self, client: aioredis.Redis, queue_keys: keys.QueueKeys, result_ttl: float) -> None:
        self._client = client
        self._keys = queue_keys
        self._ttl_ms = int(result_ttl * 1000)

    def call_for(self, request: JobRequest, now: float) -> tuple[list[str], list[scripts.Arg]]:
        """KEYS and ARGV of the ENQUEUE call for `request` (for callers that pipeline or batch it)."""
        job = build_job(request, now, traceparent=tracecontext.current())
        payload = jobs.encode(job)
        if len(payload) > MAX_JOB_BYTES:
            raise JobTooLarge(f"job is {len(payload)} bytes encoded, the limit is {MAX_JOB_BYTES}")
        call_keys = [self._keys.stream, self._keys.job(job.id)]
        if job.idempotency_key is not None:
            call_keys.append(self._keys.idem(job.idempotency_key))
        return call_keys, [job.id, payload, self._ttl_ms, job.engine, repr(job.enqueued_at)]

    async def enqueue(self, request: JobRequest) -> Enqueued:
        """Add one job (one round trip)."""
        with tracecontext.enqueue_span(self._keys.stream, request.engine):
            call_keys, args = self.call_for(request, time.time())
            return _enqueued(await ENQUEUE(self._client, call_keys, args))

    async def enqueue_many(self, requests: Sequence[JobRequest]) -> list[Enqueued]:
        """Add many jobs in one pipelined round trip (each still atomic on its own)."""
        now = time.time()
        calls = [self.call_for(request, now) for request in requests]
        await ENQUEUE.load(self._client)
        async with self._client.pipeline(transaction=False) as pipe:
            for call_keys, args in calls:
                pipe.evalsha(ENQUEUE.sha, len(call_keys), *call_keys, *args)
            replies = await pipe.execute()
        return [_enqueued(reply) for reply in replies]

    async def get(self, job_id: str) -> jobs.JobState | None:
        """The job's state, or None when it is unknown or its hash expired."""
        fields = cast("dict[bytes, bytes]", await self._client.hgetall(self._keys.job(job_id)))
        return jobs.decode_state(job_id, fields) if fields else None

    async def get_many(self, job_ids: Sequence[str]) -> list[jobs.JobState | None]:
        """States of many jobs in one pipelined round trip."""
        async with self._client.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hgetall(self._keys.job(job_id))
            replies = await pipe.execute()
        return [jobs.decode_state(i, f) if f else None for i, f in zip(job_ids, replies, strict=True)]


def _enqueued(reply: object) -> Enqueued:
    if not isinstance(reply, list) or len(reply) != 2:
        raise redis.exceptions.ResponseError(f"unexpected enqueue reply {reply!r}")
    job_id, created = reply
    return Enqueued(job_id.decode() if isinstance(job_id, bytes) else str(job_id), bool(created))
