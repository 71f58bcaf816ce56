"""Job records: ids, encode/decode round trips, and specific errors for anything that is not a job."""

from __future__ import annotations

import pytest

from neuroedge_queue import jobs, keys


def _job(**fields: object) -> jobs.Job:
    values: dict[str, object] = {"id": jobs.new_job_id(), "engine": "echo", "enqueued_at": 1700000000.5}
    values.update(fields)
    return jobs.Job.model_validate(values)


def test_round_trip_keeps_every_field() -> None:
    job = _job(input={"a": [1, 2.5, None, "x"]}, attempts=2, deadline=1700000100.0, idempotency_key="k-1")
    assert jobs.decode(jobs.encode(job)) == job
    assert jobs.decode_entry({b"job": jobs.encode(job)}) == job


def test_encoding_is_compact_json_without_defaults() -> None:
    job = _job()
    assert jobs.encode(job) == f'{{"id":"{job.id}","engine":"echo","enqueued_at":1700000000.5}}'.encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "invalid job: job: Invalid JSON"),
        (b'{"engine": "echo", "enqueued_at": 1}', "invalid job: id: Field required"),
        (b'{"id": "x", "engine": "echo", "enqueued_at": 1}', "invalid job: id: String should match"),
        (b'{"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "engine": "Echo!", "enqueued_at": 1}', "invalid job: engine"),
        (
            b'{"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "engine": "e", "enqueued_at": 1, "attempts": -1}',
            "attempts",
        ),
        (b'{"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "engine": "e", "enqueued_at": 1, "extra": 1}', "extra"),
    ],
)
def test_invalid_payloads_are_refused_with_the_field_named(raw: bytes, message: str) -> None:
    with pytest.raises(jobs.JobDecodeError, match=message):
        jobs.decode(raw)


def test_entry_without_the_job_field_is_refused() -> None:
    with pytest.raises(jobs.JobDecodeError, match="no 'job' field"):
        jobs.decode_entry({b"other": b"{}"})


def test_ids_are_valid_unique_and_sort_in_creation_order() -> None:
    ids = [jobs.new_job_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(keys.JOB_ID.match(i) for i in ids)


def test_ids_sort_by_time_and_carry_it() -> None:
    early, late = jobs.new_job_id(now_ms=1_700_000_000_000), jobs.new_job_id(now_ms=1_800_000_000_000)
    assert early < late
    assert jobs.id_time(late) == 1_800_000_000.0


def test_ids_stay_monotonic_when_the_clock_goes_back() -> None:
    first = jobs.new_job_id(now_ms=1_900_000_000_000)
    second = jobs.new_job_id(now_ms=1_899_999_999_000)
    assert second > first


def test_state_decodes_the_hash_with_its_json_result() -> None:
    job_id = jobs.new_job_id()
    state = jobs.decode_state(
        job_id,
        {
            b"status": b"succeeded",
            b"engine": b"echo",
            b"attempts": b"2",
            b"result": b'{"n": 1}',
            b"worker": b"w1",
            b"started_at": b"1700000000.25",
        },
    )
    assert state.id == job_id and state.status is jobs.Status.SUCCEEDED and state.attempts == 2
    assert state.result == {"n": 1} and state.started_at == 1700000000.25
    assert jobs.Status.SUCCEEDED in jobs.FINAL and jobs.Status.RUNNING not in jobs.FINAL


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({b"status": b"exploded", b"engine": b"e"}, "status"),
        ({b"status": b"succeeded", b"engine": b"e", b"result": b"{"}, "result"),
    ],
)
def test_corrupt_state_is_refused(fields: dict[bytes, bytes], message: str) -> None:
    with pytest.raises(jobs.JobDecodeError, match=message):
        jobs.decode_state(jobs.new_job_id(), fields)
