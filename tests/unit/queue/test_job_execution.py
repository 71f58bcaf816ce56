"""Panic-safe execution and the pure outcome decision (succeed, retry with backoff, dead-letter, fail)."""

from __future__ import annotations

import asyncio
import json

import pydantic
import pytest

from neuroedge_queue import jobs, retry
from neuroedge_runtime.engines import base
from neuroedge_runtime.queue import execute, settle

POLICY = retry.RetryPolicy(base=1.0, cap=30.0, max_attempts=3)


def _job(**fields: object) -> jobs.Job:
    values: dict[str, object] = {"id": jobs.new_job_id(), "engine": "e", "enqueued_at": 100.0, "input": [1]}
    values.update(fields)
    return jobs.Job.model_validate(values)


async def test_success_is_the_json_result() -> None:
    async def double(value: pydantic.JsonValue) -> pydantic.JsonValue:
        assert isinstance(value, int)
        return {"twice": value * 2}

    outcome = await execute.run(double, 21, budget=1)
    assert outcome.ok and json.loads(outcome.result or b"") == {"twice": 42} and outcome.seconds >= 0


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ValueError("bad input"), "ValueError: bad input"),
        (RuntimeError(), "RuntimeError"),
        (SystemExit(3), "SystemExit: 3"),
        (TimeoutError("upstream"), "TimeoutError: upstream"),  # the engine's own timeout, not ours
    ],
)
async def test_exceptions_become_failed_outcomes(error: BaseException, message: str) -> None:
    async def boom(_: pydantic.JsonValue) -> pydantic.JsonValue:
        raise error

    outcome = await execute.run(boom, None, budget=1)
    assert not outcome.ok and outcome.error == message


async def test_overrunning_the_budget_is_a_timeout() -> None:
    async def hang(_: pydantic.JsonValue) -> pydantic.JsonValue:
        await asyncio.sleep(3600)
        return None

    outcome = await execute.run(hang, None, budget=0.05)
    assert outcome.error == "timed out after 0.05s"


async def test_results_that_are_not_json_fail() -> None:
    async def weird(_: pydantic.JsonValue) -> pydantic.JsonValue:
        return {"x": float("nan")}

    outcome = await execute.run(weird, None, budget=1)
    assert outcome.error is not None and outcome.error.startswith("ValueError")


async def test_long_errors_are_truncated() -> None:
    async def verbose(_: pydantic.JsonValue) -> pydantic.JsonValue:
        raise ValueError("x" * 10_000)

    outcome = await execute.run(verbose, None, budget=1)
    assert outcome.error is not None and len(outcome.error) == execute.MAX_ERROR_CHARS


async def test_cancellation_from_outside_propagates() -> None:
    started = asyncio.Event()

    async def slow(_: pydantic.JsonValue) -> pydantic.JsonValue:
        started.set()
        await asyncio.sleep(3600)
        return None

    task = asyncio.create_task(execute.run(slow, None, budget=60))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_success_settles_as_ok() -> None:
    job = _job()
    op = execute.settle_op(
        job,
        entry_id="1-0",
        attempt=1,
        outcome=execute.Outcome(b"5", None, 0.1),
        policy=POLICY,
        now=200,
        draw=0.5,
    )
    assert op == settle.succeed(job.id, "1-0", b"5", 200)


def test_failure_before_the_last_attempt_retries_with_backoff_and_counts_the_attempt() -> None:
    job = _job(attempts=1)
    op = execute.settle_op(
        job,
        entry_id="1-0",
        attempt=2,
        outcome=execute.Outcome(None, "E: x", 0.1),
        policy=POLICY,
        now=200,
        draw=0.5,
    )
    assert op.kind == "retry" and op.a == "E: x" and op.b == repr(200 + 1.0)  # bound(2) = 2.0, half of it
    assert jobs.decode(op.c.encode()) == job.model_copy(update={"attempts": 2})


def test_failure_of_the_last_attempt_dead_letters_with_the_error() -> None:
    job = _job(attempts=2)
    op = execute.settle_op(
        job,
        entry_id="1-0",
        attempt=3,
        outcome=execute.Outcome(None, "E: x", 0.1),
        policy=POLICY,
        now=200,
        draw=0.5,
    )
    assert op == settle.dead(job.id, "1-0", "E: x", 200, jobs.encode(job))


def test_a_retry_that_would_start_after_the_deadline_fails_instead() -> None:
    job = _job(deadline=200.5)
    op = execute.settle_op(
        job,
        entry_id="1-0",
        attempt=1,
        outcome=execute.Outcome(None, "E: x", 0.1),
        policy=POLICY,
        now=200,
        draw=0.9,
    )
    assert op.kind == "fail" and op.a == "deadline passed before a retry; last error: E: x"


def test_the_deadline_shortens_the_time_budget() -> None:
    assert execute.timeout_for(_job(), 30, now=100) == 30
    assert execute.timeout_for(_job(deadline=105.0), 30, now=100) == 5
    assert execute.timeout_for(_job(deadline=90.0), 30, now=100) == 0


async def test_an_input_the_engine_rejects_fails_at_once_without_retry() -> None:
    async def strict(_value: pydantic.JsonValue) -> pydantic.JsonValue:
        raise base.EngineInputError(
            "invalid input for this engine", [{"loc": ["input", "x"], "msg": "missing"}]
        )

    outcome = await execute.run(strict, {}, budget=1)
    assert not outcome.ok and outcome.permanent
    assert outcome.error == "invalid input for this engine (input.x: missing)"
    op = execute.settle_op(
        _job(), entry_id="1-0", attempt=1, outcome=outcome, policy=POLICY, now=200.0, draw=0.5
    )
    assert op.kind == "fail" and op.a == outcome.error
