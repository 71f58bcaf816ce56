"""Job endpoints: `POST /engine/run` enqueues a run of one of the caller's Engines, `GET /jobs/{job_id}` reads
its state. Both act for the caller's tenant only (see `engines.jobs`)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from neuroedge_queue import jobs
from neuroedge_queue import keys as queue_keys
from neuroedge_runtime import bodies, keys
from neuroedge_runtime.engines import jobs as engine_jobs
from neuroedge_runtime.views.data import ENGINE_NAME

JOB_ID_PATTERN = queue_keys.JOB_ID.pattern


class RunRequest(BaseModel):
    """Run the named Engine of the caller's tenant on `input`, in the background."""

    model_config = ConfigDict(extra="forbid")
    engine: Annotated[str, StringConstraints(pattern=ENGINE_NAME)]
    input: dict[str, JsonValue] = Field(default_factory=dict)
    idempotency_key: Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,200}$")] | None = None
    """Repeating a run with the same key (within the result TTL) returns the first job, adding none."""


class RunResponse(BaseModel):
    """The accepted job: poll `location` (also the Location header) for its state."""

    job_id: str
    status: jobs.Status
    created: bool
    """False when the idempotency key was used before: `job_id` is the earlier job."""
    location: str


class JobOut(BaseModel):
    """A job's state; `result` once it succeeded, `error` after a failed attempt (epoch-second times)."""

    id: str
    status: jobs.Status
    engine: str
    attempts: int
    enqueued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    retry_at: float | None = None
    result: JsonValue = None
    error: str | None = None


async def engine_run(request: web.Request) -> web.Response:
    """Enqueue a run of the caller's Engine into the runtime's pool; 202 with the job's id and location."""
    body = await bodies.parse_json(request, RunRequest)
    tenant = request[keys.PRINCIPAL].tenant
    enqueued = await request.app[keys.JOBS].run(
        tenant, engine_jobs.RunRequest(body.engine, body.input, body.idempotency_key)
    )
    location = f"/jobs/{enqueued.job_id}"
    state = jobs.Status.QUEUED
    if not enqueued.created:
        state = (await request.app[keys.JOBS].get(tenant, enqueued.job_id)).status
    out = RunResponse(job_id=enqueued.job_id, status=state, created=enqueued.created, location=location)
    return bodies.json_response(out, status=202, headers={"Location": location})


async def get_job(request: web.Request) -> web.Response:
    """A job of the caller's tenant; 404 for anything else (malformed, unknown, expired, another tenant's)."""
    state = await request.app[keys.JOBS].get(request[keys.PRINCIPAL].tenant, request.match_info["job_id"])
    return bodies.json_response(JobOut.model_validate(engine_jobs.describe(state)))
