"""Asynchronous runs of a tenant's Engine: `/engine/run` enqueues a job, `/jobs/{id}` reads its state.

The tenant is always the caller's (from its access token), and every key the producer touches carries it
(`ne:<tenant>:{<tenant>.<pool>}:...`): a job id or idempotency key of another tenant names a key this tenant
never reads. The job carries the Engine's kind and config as registered when it was accepted, so the pool's
workers run it with the same engine code as the synchronous endpoints and need no database access.

The pool is the runtime's `NEUROEDGE_POOL` (the Engine builder sets it to the Engine's `workerPoolRef` on
the Engine's API pods; `make up` to the sample Engine's pool): without one, `/engine/run` answers 503.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic
import redis.asyncio as aioredis

from neuroedge_queue import jobs, keys, producer
from neuroedge_runtime import problems
from neuroedge_runtime.engines import base, onnx
from neuroedge_runtime.engines.service import EngineService, RegisteredEngine


@dataclass(frozen=True)
class RunRequest:
    """What the caller asked to run."""

    engine: str
    input: dict[str, pydantic.JsonValue]
    idempotency_key: str | None = None


class JobService:
    """Enqueues engine runs into the runtime's pool and reads job states, for one tenant at a time."""

    def __init__(
        self, engines: EngineService, client: aioredis.Redis, pool: str | None, result_ttl: float
    ) -> None:
        self._engines = engines
        self._client = client
        self._pool = pool
        self._result_ttl = result_ttl

    def _producer(self, tenant: str, pool: str) -> producer.Producer:
        return producer.Producer(self._client, keys.QueueKeys(tenant, pool), self._result_ttl)

    async def run(self, tenant: str, request: RunRequest) -> producer.Enqueued:
        """Enqueue a run of the tenant's Engine; 404 unknown engine, 503 no pool, 413 job too large."""
        found = await self._engines.lookup(tenant, request.engine)
        if not self._pool:
            raise problems.unavailable("this runtime has no worker pool for jobs (NEUROEDGE_POOL is not set)")
        if found.kind == "router":
            found, request = await self._routed(tenant, request)
        # An Engine serving a trained model runs as kind `onnx` with its model spec as the config; a volume
        # model (pvc://, configmap://) is mounted in the pool's pods too (the WorkerPool builder).
        job = producer.JobRequest(
            engine=found.name,
            input=dict(request.input),
            idempotency_key=request.idempotency_key,
            kind=onnx.KIND if found.model is not None else found.kind,
            config=found.model if found.model is not None else found.config,
        )
        try:
            return await self._producer(tenant, self._pool).enqueue(job)
        except producer.JobTooLarge as exc:
            raise problems.payload_too_large(str(exc)) from None

    async def _routed(self, tenant: str, request: RunRequest) -> tuple[RegisteredEngine, RunRequest]:
        """A router's run is the chosen Engine's run: `input.text` is routed, `input.input` is the chosen
        Engine's input. The chosen Engine is the tenant's own (looked up under its row-level security)."""
        text, inputs = request.input.get("text"), request.input.get("input", {})
        if not isinstance(text, str) or not isinstance(inputs, dict):
            raise problems.invalid(
                "a router's run takes input.text (the text to route) and input.input (the chosen "
                "engine's input)",
                [{"loc": ["input", "text"], "msg": "a string is required"}],
            )
        decision = await self._engines.run(tenant, request.engine, base.Operation.ROUTE, {"text": text})
        chosen = decision.get("engine")
        if not isinstance(chosen, str):
            raise problems.invalid(
                f"router {request.engine!r} matched no route and has no fallback",
                [{"loc": ["input", "text"], "msg": "no route"}],
            )
        found = await self._engines.lookup(tenant, chosen)
        if found.kind == "router":
            raise problems.conflict(f"router {request.engine!r} chose {chosen!r}, another router")
        return found, RunRequest(chosen, dict(inputs), request.idempotency_key)

    async def get(self, tenant: str, job_id: str) -> jobs.JobState:
        """The state of one of the tenant's jobs; one 404 for a malformed id, an unknown or expired one, and
        another tenant's, so a caller learns nothing about ids it does not own."""
        if not self._pool or not keys.JOB_ID.match(job_id):
            raise problems.not_found("no such job")
        state = await self._producer(tenant, self._pool).get(job_id)
        if state is None:
            raise problems.not_found("no such job")
        return state


def describe(state: jobs.JobState) -> dict[str, Any]:
    """The fields of a job state the API shows (not the worker's consumer name)."""
    return state.model_dump(exclude={"worker"})
