"""Panic-safe execution of one job, and the pure decision of what its outcome means.

`run` never raises for anything the engine does: an exception, a result that is not JSON, or running past the
timeout all become a failed `Outcome`, so one bad job can never stop the worker. Only cancellation from
outside (shutdown) propagates, and then nothing is recorded: the entry stays pending for another worker.
An engine that rejects its config or input (`EngineInputError`) fails the job at once: the same input would
be rejected on every retry.
Engines must be async and cooperative; CPU-bound work belongs in `asyncio.to_thread`, since a handler that
blocks the event loop cannot be timed out by anyone.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import pydantic

from neuroedge_queue import jobs, retry
from neuroedge_runtime.engines import base, registry
from neuroedge_runtime.queue import settle

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Outcome:
    """What one attempt produced: a JSON result, or an error message."""

    result: bytes | None
    error: str | None
    seconds: float
    permanent: bool = False
    """The error cannot go away on a retry (the engine rejected the config or input)."""

    @property
    def ok(self) -> bool:
        return self.error is None


async def run(handler: registry.Handler, value: pydantic.JsonValue, budget: float) -> Outcome:
    """Run `handler(value)` for at most `budget` seconds, turning every failure into an Outcome."""
    began = time.perf_counter()
    deadline = asyncio.timeout(budget)
    try:
        async with deadline:
            result = await handler(value)
        body = json.dumps(result, separators=(",", ":"), allow_nan=False).encode()
    except TimeoutError as exc:
        error = f"timed out after {budget:g}s" if deadline.expired() else _describe(exc)
        return Outcome(None, error, time.perf_counter() - began)
    except base.EngineInputError as exc:
        return Outcome(None, _describe_input_error(exc), time.perf_counter() - began, permanent=True)
    except (Exception, SystemExit) as exc:  # CancelledError (shutdown) is not caught, on purpose
        return Outcome(None, _describe(exc), time.perf_counter() - began)
    return Outcome(body, None, time.perf_counter() - began)


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def _describe_input_error(exc: base.EngineInputError) -> str:
    where = "; ".join(f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg', '')}" for e in exc.errors)
    return (f"{exc} ({where})" if where else str(exc))[:MAX_ERROR_CHARS]


def timeout_for(job: jobs.Job, job_timeout: float, now: float) -> float:
    """The job's time budget: the pool's timeout, shortened by the job's deadline."""
    if job.deadline is None:
        return job_timeout
    return max(0.0, min(job_timeout, job.deadline - now))


def settle_op(
    job: jobs.Job,
    *,
    entry_id: str,
    attempt: int,
    outcome: Outcome,
    policy: retry.RetryPolicy,
    now: float,
    draw: float,
) -> settle.Op:
    """What to record after attempt number `attempt` (1-based, all deliveries counted) of `job` (pure):
    success; `failed` at once when the engine rejected the input; a retry after a jittered backoff; the
    dead-letter stream once `policy.max_attempts` is used up;
    or `failed` when the retry would start after the job's deadline."""
    if outcome.result is not None:
        return settle.succeed(job.id, entry_id, outcome.result, now)
    error = outcome.error or "failed"
    if outcome.permanent:
        return settle.fail(job.id, entry_id, error, now)
    if policy.gives_up_after(attempt):
        return settle.dead(job.id, entry_id, error, now, jobs.encode(job))
    retry_at = now + policy.delay(attempt, draw)
    if job.deadline is not None and retry_at >= job.deadline:
        return settle.fail(job.id, entry_id, f"deadline passed before a retry; last error: {error}", now)
    again = job.model_copy(update={"attempts": attempt})
    return settle.retry_later(job.id, entry_id, error, retry_at, jobs.encode(again))
