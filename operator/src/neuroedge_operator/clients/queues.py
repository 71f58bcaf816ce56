"""The pools' Redis Streams queues, as the operator sees them: figures for status and autoscaling, the
consumer group created ahead of the workers, and the schedules' jobs enqueued.

Over the operator's ADMIN Redis URL (settings), with the runtime's own queue modules (key layout, figures,
producer), so that the operator and the workers can never disagree on a key or a job's encoding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from neuroedge_operator.clients import fence
from neuroedge_operator.plan import workload_reports
from neuroedge_operator.resources import workerpool as pool_model
from neuroedge_queue import figures, groups, keys, producer

UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
RESULT_TTL_SECONDS = 7 * 86_400.0
"""How long a scheduled job's hash and idempotency key live: longer than the operator is ever expected to be
down, so a due time enqueued before a long outage is still recognised after it."""


class Queues:
    """One admin connection pool for every pool's queue (bytes replies, as the runtime's modules expect)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def observe(self, tenant: str, pool: str) -> workload_reports.QueueObservation:
        """The pool's queue figures, creating its stream and consumer group first (from id 0, so jobs
        enqueued before any worker started are delivered), so a pool is Ready before its first worker and
        its backlog is measurable with no consumer at all. Redis errors become an observation saying why."""
        queue_keys = keys.QueueKeys(tenant, pool)
        try:
            await groups.ensure_group(self._client, queue_keys)
            found = await figures.read(self._client, queue_keys)
        except (*UNREACHABLE, redis.exceptions.ResponseError) as exc:
            return workload_reports.QueueObservation(None, group_exists=False, error=_describe(exc))
        return workload_reports.QueueObservation(as_status(found), group_exists=True)

    async def enqueue(
        self,
        tenant: str,
        pool: str,
        engine: Engine,
        job_input: Mapping[str, Any],
        idempotency_key: str,
    ) -> str:
        """Enqueue one job; the same idempotency key always answers with the job it first created. The job
        carries the Engine's kind and config, like the runtime's `/engine/run` jobs (workers read no
        database)."""
        fence.FENCE.check("enqueue")
        queue = producer.Producer(self._client, keys.QueueKeys(tenant, pool), RESULT_TTL_SECONDS)
        request = producer.JobRequest(
            engine=engine.name,
            input=dict(job_input),
            idempotency_key=idempotency_key,
            kind=engine.kind,
            config=dict(engine.config),
        )
        return (await queue.enqueue(request)).job_id


@dataclass(frozen=True)
class Engine:
    """What a job needs to know of the Engine it runs: its name, kind (Engine.spec.type) and config."""

    name: str
    kind: str
    config: Mapping[str, str]


def as_status(found: figures.QueueFigures) -> pool_model.QueueFigures:
    """The runtime's figures in the WorkerPool's status terms: `lag` is the consumer group's lag (entries
    not yet delivered), `length` the stream's length (settled entries are deleted, so waiting + pending)."""
    return pool_model.QueueFigures(
        length=found.waiting + found.pending,
        lag=found.waiting,
        pending=found.pending,
        dead_lettered=found.dead,
    )


def _describe(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:300]
