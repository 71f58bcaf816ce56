"""What the worker decides before running an entry, and the SETTLE call layout (both pure)."""

from __future__ import annotations

import json

from neuroedge_queue import jobs, keys
from neuroedge_runtime.queue import settle, worker


def _entry(**fields: object) -> dict[bytes, bytes]:
    values: dict[str, object] = {"id": jobs.new_job_id(), "engine": "echo", "enqueued_at": 1.0}
    values.update(fields)
    return {b"job": jobs.encode(jobs.Job.model_validate(values))}


def test_a_fresh_entry_runs() -> None:
    op, job = worker._admit("1-0", _entry(), delivery=1, now=10, max_deliveries=3)
    assert op is None and job is not None and job.engine == "echo"


def test_an_entry_deleted_from_the_stream_is_only_acknowledged() -> None:
    op, job = worker._admit("1-0", None, delivery=2, now=10, max_deliveries=3)
    assert op == settle.ack("1-0") and job is None


def test_an_undecodable_entry_is_dead_lettered_with_its_raw_content() -> None:
    op, job = worker._admit("1-0", {b"job": b"{oops"}, delivery=1, now=10, max_deliveries=3)
    assert job is None and op is not None
    assert op.kind == "dead" and op.job_id is None and op.c == "{oops" and "Invalid JSON" in op.a


def test_too_many_deliveries_dead_letter_without_running() -> None:
    fields = _entry(attempts=1)
    op, job = worker._admit("1-0", fields, delivery=3, now=10, max_deliveries=3)
    assert op is not None and op.kind == "dead" and job is not None
    assert op.a == "delivered 3 times without an outcome (worker crashed or timed out every time)"
    op, _ = worker._admit("1-0", fields, delivery=2, now=10, max_deliveries=3)
    assert op is None  # attempt 3 of 3 still runs


def test_an_entry_past_its_deadline_fails_without_running() -> None:
    op, _ = worker._admit("1-0", _entry(deadline=5.0), delivery=1, now=10, max_deliveries=3)
    assert op is not None and op.kind == "fail" and op.a == "deadline passed before the job started"


def test_settle_call_lists_each_job_key_once_in_order() -> None:
    qk = keys.QueueKeys("acme", "p")
    a, b = jobs.new_job_id(), jobs.new_job_id()
    ops = [
        settle.start(a, 1, "w", 1.0),
        settle.start(b, 1, "w", 1.0),
        settle.succeed(a, "1-0", b"1", 2.0),
        settle.ack("2-0"),
    ]
    call_keys, args = settle.script_call(qk, 1000, ops)
    assert call_keys == [qk.stream, qk.dlq, qk.delayed, qk.job(a), qk.job(b)]
    assert args[:2] == [keys.GROUP, 1000]
    assert json.loads(str(args[2])) == [
        ["start", 4, "", "1", "w", "1.0"],
        ["start", 5, "", "1", "w", "1.0"],
        ["ok", 4, "1-0", "1", "2.0", ""],
        ["ack", 0, "2-0", "", "", ""],
    ]
