"""Schedules plan each due time once: deterministic idempotency keys, catch-up runs once, creation time counts
for schedules never run, suspended Engines plan nothing."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator.plan import schedules
from neuroedge_operator.resources import engine as engine_model

_IDS = itertools.count()
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the operator started before the Engine was created
NIGHTLY: list[dict[str, Any]] = [{"name": "nightly", "cron": "0 2 * * *", "input": {"task": "summarize"}}]


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def engine_with(
    schedule_specs: list[dict[str, Any]], last: dict[str, str] | None = None, **spec: Any
) -> engine_model.Engine:
    body = samples.engine_body(schedules=schedule_specs, **spec)
    body["status"] = {
        "lastSchedules": [
            {"name": n, "lastEnqueuedTime": v, "lastJobId": "OLD"} for n, v in (last or {}).items()
        ]
    }
    return engine_model.parse(body)


def enqueued(plan: schedules.SchedulePlan) -> list[tuple[schedules.ScheduledJob, str]]:
    """Every planned job with the id a queue would return for it."""
    return [(job, f"JOB{next(_IDS)}") for job in plan.jobs]


def with_status(
    engine: engine_model.Engine, jobs: list[tuple[schedules.ScheduledJob, str]]
) -> engine_model.Engine:
    """The Engine after the handler enqueued `jobs` and wrote the recorded lastSchedules to status."""
    status = engine.status.model_copy(update={"last_schedules": schedules.recorded(engine, jobs)})
    return engine_model.Engine(meta=engine.meta, spec=engine.spec, status=status)


def test_never_run_schedule_counts_from_creation() -> None:
    engine = engine_with(NIGHTLY)  # created 2026-11-20T10:00Z, after that day's 02:00
    assert schedules.plan(engine, t("2026-11-21T01:59:59"), START).jobs == ()
    (job,) = schedules.plan(engine, t("2026-11-21T02:00:00"), START).jobs
    assert job.due == t("2026-11-21T02:00:00")
    assert job.idempotency_key == "sched:acme/support-assistant/nightly/2026-11-21T02:00:00Z"
    assert (job.engine, job.pool, job.schedule, job.input) == (
        "support-assistant",
        "general",
        "nightly",
        NIGHTLY[0]["input"],
    )
    assert (job.missed, job.catch_up) == (0, False)


def test_enqueued_due_time_is_not_planned_again() -> None:
    engine = engine_with(NIGHTLY, {"nightly": "2026-11-21T02:00:00Z"})
    assert schedules.plan(engine, t("2026-11-21T02:00:00"), START).jobs == ()
    assert schedules.plan(engine, t("2026-11-22T01:59:00"), START).jobs == ()
    (job,) = schedules.plan(engine, t("2026-11-22T02:00:30"), START).jobs
    assert job.due == t("2026-11-22T02:00:00")


def test_missed_due_times_run_once_for_the_latest() -> None:
    engine = engine_with(NIGHTLY, {"nightly": "2026-11-18T02:00:00Z"})
    operator_start = t("2026-11-21T05:00:00")
    (job,) = schedules.plan(engine, t("2026-11-21T05:00:10"), operator_start).jobs
    assert job.due == t("2026-11-21T02:00:00")
    assert job.missed == 2  # the 19th and the 20th were skipped
    assert job.catch_up  # it fell due while the operator was down


def test_a_restart_replans_the_same_job() -> None:
    """Enqueued but status not written (crash): the same due time gives the same key, which the queue
    deduplicates."""
    engine = engine_with(NIGHTLY, {"nightly": "2026-11-20T02:00:00Z"})
    first = schedules.plan(engine, t("2026-11-21T02:00:05"), START).jobs
    again = schedules.plan(engine, t("2026-11-21T02:07:00"), t("2026-11-21T02:06:00")).jobs
    assert [j.idempotency_key for j in first] == [j.idempotency_key for j in again]


def test_plan_then_status_then_plan_is_quiet() -> None:
    engine = engine_with(NIGHTLY)
    now = t("2026-11-21T02:00:00")
    plan = schedules.plan(engine, now, START)
    jobs = enqueued(plan)
    after = with_status(engine, jobs)
    (entry,) = after.status.last_schedules
    assert (entry.name, entry.last_enqueued_time, entry.last_job_id) == ("nightly", now, jobs[0][1])
    assert schedules.plan(after, now + timedelta(minutes=5), START).jobs == ()


def test_only_due_schedules_fire_and_others_keep_their_status() -> None:
    specs = [*NIGHTLY, {"name": "hourly", "cron": "@hourly"}]
    engine = engine_with(specs, {"nightly": "2026-11-21T02:00:00Z", "hourly": "2026-11-21T02:00:00Z"})
    plan = schedules.plan(engine, t("2026-11-21T03:00:00"), START)
    assert [j.schedule for j in plan.jobs] == ["hourly"]
    entries = {e.name: e for e in schedules.recorded(engine, enqueued(plan))}
    assert entries["nightly"].last_job_id == "OLD"
    assert entries["hourly"].last_enqueued_time == t("2026-11-21T03:00:00")
    assert plan.next_due == t("2026-11-21T04:00:00")


def test_removed_schedules_leave_status() -> None:
    engine = engine_with(NIGHTLY, {"nightly": "2026-11-21T02:00:00Z", "gone": "2026-11-21T02:00:00Z"})
    plan = schedules.plan(engine, t("2026-11-21T02:10:00"), START)
    assert [e.name for e in schedules.recorded(engine, enqueued(plan))] == ["nightly"]


def test_suspended_engine_plans_nothing_and_keeps_status() -> None:
    engine = engine_with(NIGHTLY, {"nightly": "2026-11-18T02:00:00Z"}, suspend=True)
    plan = schedules.plan(engine, t("2026-11-21T05:00:00"), START)
    assert (plan.jobs, plan.next_due) == ((), None)
    assert [e.last_job_id for e in schedules.recorded(engine, [])] == ["OLD"]


def test_resumed_engine_catches_up_once() -> None:
    engine = engine_with(NIGHTLY, {"nightly": "2026-11-18T02:00:00Z"}, suspend=False)
    (job,) = schedules.plan(engine, t("2026-11-21T05:00:00"), START).jobs
    assert job.due == t("2026-11-21T02:00:00") and not job.catch_up


def test_engine_without_schedules_plans_nothing() -> None:
    plan = schedules.plan(engine_with([]), t("2026-11-21T05:00:00"), START)
    assert (plan.jobs, plan.next_due) == ((), None)


def test_long_names_give_a_short_deterministic_key() -> None:
    due = t("2026-11-21T02:00:00")
    names = ("n" * 63, "e" * 63, "s" * 63)
    key = schedules.idempotency_key(*names, due)
    assert len(key) <= 200 and key == schedules.idempotency_key(*names, due)
    assert key.startswith("sched:") and key.endswith("/2026-11-21T02:00:00Z")
    assert key != schedules.idempotency_key("n" * 63, "e" * 63, "s" * 62 + "t", due)
    assert re.fullmatch(r"[\x21-\x7e]{1,200}", key)  # the queue's idempotency key rule


def test_missed_count_is_bounded() -> None:
    engine = engine_with(
        [{"name": "every-minute", "cron": "* * * * *"}], {"every-minute": "2025-11-21T00:00:00Z"}
    )
    (job,) = schedules.plan(engine, t("2026-11-21T00:00:00"), START).jobs
    assert job.missed == schedules.MISSED_COUNT_LIMIT
    assert job.due == t("2026-11-21T00:00:00")


@pytest.mark.parametrize(
    ("cron", "now", "latest"),
    [
        ("*/15 * * * *", "2026-11-21T10:15:00", "2026-11-21T10:15:00"),
        ("*/15 * * * *", "2026-11-21T10:14:59.999999", "2026-11-21T10:00:00"),
        ("0 3 * * MON-FRI", "2026-11-22T12:00:00", "2026-11-20T03:00:00"),  # Sunday -> Friday
        ("0 0 * * 7", "2026-11-23T00:00:00", "2026-11-22T00:00:00"),  # 7 is Sunday
        ("@monthly", "2026-11-21T00:00:00", "2026-11-01T00:00:00"),
    ],
)
def test_latest_due(cron: str, now: str, latest: str) -> None:
    assert schedules.latest_due(cron, t(now)) == t(latest)


def test_simulated_day_with_crashes_enqueues_each_due_time_exactly_once() -> None:
    """A timer every 45 s through a weekday; every third pass crashes after enqueueing, before writing
    status. The queue keeps the first job per idempotency key: each due time ends up enqueued exactly once."""
    ids = itertools.count()
    engine = engine_with([{"name": "kb", "cron": "*/30 8-18 * * MON-FRI"}], {"kb": "2026-11-20T18:30:00Z"})
    queue: dict[str, str] = {}
    now, passes = t("2026-11-23T07:00:00"), 0  # a Monday
    while now < t("2026-11-23T19:30:00"):
        plan = schedules.plan(engine, now, START)
        jobs = [(job, queue.setdefault(job.idempotency_key, f"J{next(ids)}")) for job in plan.jobs]
        passes += 1
        if passes % 3:
            engine = with_status(engine, jobs)
        now += timedelta(seconds=45)
    expected = [f"2026-11-23T{h:02d}:{m:02d}:00Z" for h in range(8, 19) for m in (0, 30)]
    assert sorted(key.rsplit("/", 1)[1] for key in queue) == expected
    assert len(set(queue.values())) == len(expected)


def test_a_job_that_failed_to_enqueue_is_not_recorded() -> None:
    specs = [*NIGHTLY, {"name": "hourly", "cron": "@hourly"}]
    engine = engine_with(specs, {"nightly": "2026-11-20T02:00:00Z", "hourly": "2026-11-21T01:00:00Z"})
    plan = schedules.plan(engine, t("2026-11-21T02:00:00"), START)
    assert [j.schedule for j in plan.jobs] == ["nightly", "hourly"]
    nightly_only = [(plan.jobs[0], "J1")]
    entries = {e.name: e.last_enqueued_time for e in schedules.recorded(engine, nightly_only)}
    assert entries == {"nightly": t("2026-11-21T02:00:00"), "hourly": t("2026-11-21T01:00:00")}
    again = schedules.plan(with_status(engine, nightly_only), t("2026-11-21T02:01:00"), START)
    assert [(j.schedule, j.idempotency_key) for j in again.jobs] == [("hourly", plan.jobs[1].idempotency_key)]
