"""Which scheduled jobs an Engine must enqueue now: a pure plan from its schedules, the due times already
enqueued (status.lastSchedules), the Engine's creation time and `now`.

Exactly once per due time, even across operator restarts: the handler enqueues the planned jobs, then
writes the new lastEnqueuedTime values (and the job id the queue returned) to status. A crash in between
re-plans the same due time, which yields the same idempotency key
(`sched:<namespace>/<engine>/<schedule>/<due time>`), and the queue answers a key it has seen with the job it
created the first time, never a second job.

Catch-up policy, "run once on catch-up": when several due times passed unseen (the operator was down, or the
Engine was suspended), one job is enqueued, for the latest of them; the earlier ones are skipped and counted
in `ScheduledJob.missed` (for the handler's event). A schedule that never ran counts from the Engine's
creation, so a new Engine does not fire for due times before it existed. Suspended Engines plan nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter

from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workload

MAX_IDEMPOTENCY_KEY = 200
"""The queue's limit on idempotency keys (printable ASCII, no spaces)."""
MISSED_COUNT_LIMIT = 100
"""Counting skipped due times stops here: the count only informs people, and each step costs a croniter
iteration (a per-minute cron missed for a year would be 525,600 of them)."""


@dataclass(frozen=True)
class ScheduledJob:
    """One job to enqueue on the Engine's pool."""

    schedule: str
    engine: str
    pool: str
    due: datetime
    idempotency_key: str
    input: Mapping[str, Any]
    missed: int
    """Earlier due times skipped by the catch-up policy (at most MISSED_COUNT_LIMIT)."""
    catch_up: bool
    """Whether the due time passed before the operator started (it was down when it fell due)."""


@dataclass(frozen=True)
class SchedulePlan:
    """The jobs to enqueue now (then `recorded` gives status.lastSchedules with the queue's job ids), and
    the next due time of any schedule (when a timer should look again)."""

    jobs: tuple[ScheduledJob, ...]
    next_due: datetime | None


def idempotency_key(namespace: str, engine: str, schedule: str, due: datetime) -> str:
    """`sched:<namespace>/<engine>/<schedule>/<due>`; hashed when longer than the queue accepts (three
    63-character names), still deterministic and still ending with the due time for people reading it."""
    due_text = workload.format_time(due)
    key = f"sched:{namespace}/{engine}/{schedule}/{due_text}"
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    digest = hashlib.sha256(f"{namespace}/{engine}/{schedule}".encode()).hexdigest()
    return f"sched:{digest}/{due_text}"


def latest_due(cron: str, now: datetime) -> datetime:
    """The latest due time at or before `now`."""
    due: datetime = croniter(cron, now + timedelta(seconds=1)).get_prev(datetime)
    while due > now:  # croniter keeps sub-second parts of its base in some versions
        due = croniter(cron, due).get_prev(datetime)
    return due


def next_due(cron: str, after: datetime) -> datetime:
    """The first due time strictly after `after`."""
    due: datetime = croniter(cron, after).get_next(datetime)
    return due


def count_missed(cron: str, after: datetime, before: datetime) -> int:
    """Due times strictly between `after` and `before`, counted up to MISSED_COUNT_LIMIT."""
    runs, count = croniter(cron, after), 0
    while count < MISSED_COUNT_LIMIT and runs.get_next(datetime) < before:
        count += 1
    return count


def plan(engine: engine_model.Engine, now: datetime, operator_start: datetime) -> SchedulePlan:
    """The jobs `engine` must enqueue at `now` (see the module docstring for the rules)."""
    spec = engine.spec
    if spec.suspend or spec.worker_pool_ref is None:
        return SchedulePlan((), None)
    last = engine.status.last_enqueued()
    jobs = []
    for schedule in spec.schedules:
        since = last.get(schedule.name) or engine.meta.created
        job = _job(engine, schedule, since, now, operator_start)
        if job is not None:
            jobs.append(job)
    upcoming = min((next_due(s.cron, now) for s in spec.schedules), default=None)
    return SchedulePlan(tuple(jobs), upcoming)


def _job(
    engine: engine_model.Engine,
    schedule: engine_model.Schedule,
    since: datetime,
    now: datetime,
    operator_start: datetime,
) -> ScheduledJob | None:
    first = next_due(schedule.cron, since)
    if first > now:
        return None
    due = latest_due(schedule.cron, now)
    pool = engine.spec.worker_pool_ref.name if engine.spec.worker_pool_ref else ""
    key = idempotency_key(engine.namespace, engine.name, schedule.name, due)
    return ScheduledJob(
        schedule=schedule.name,
        engine=engine.name,
        pool=pool,
        due=due,
        idempotency_key=key,
        input=schedule.input,
        missed=count_missed(schedule.cron, since, due),
        catch_up=due < operator_start,
    )


def recorded(
    engine: engine_model.Engine, enqueued: Sequence[tuple[ScheduledJob, str]]
) -> tuple[engine_model.LastSchedule, ...]:
    """status.lastSchedules once `enqueued` (the planned jobs the queue accepted, with the job id it
    returned) are in: new values for those, the previous ones otherwise; entries of schedules no longer in
    the spec are dropped. A job that failed to enqueue is left out, so the next pass plans its due time
    again."""
    old = {entry.name: entry for entry in engine.status.last_schedules}
    done = {job.schedule: (job, job_id) for job, job_id in enqueued}
    entries = []
    for schedule in engine.spec.schedules:
        if schedule.name in done:
            job, job_id = done[schedule.name]
            entries.append(
                engine_model.LastSchedule(name=job.schedule, last_enqueued_time=job.due, last_job_id=job_id)
            )
        elif schedule.name in old:
            entries.append(old[schedule.name])
    return tuple(entries)
