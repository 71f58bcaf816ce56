"""The job record, its ids, its status values, and pure encode/decode.

A job travels in the stream as one field, `job`, holding the JSON of `Job`. Its state lives in the hash
`job:<id>` (see `keys.py`), written by the producer (`queued`) and by the worker's settle step, and read by
the API's `GET /jobs/{id}`:

- `queued`: in the stream, or waiting for a retry (then `retry_at` and the previous `error` are set);
- `running`: a worker started it (`attempts` counts the starts, `worker` names the consumer);
- `succeeded`: `result` holds the engine's JSON result;
- `failed`: it cannot succeed and is not retried: its `deadline` passed, or the engine rejected its config or
  input (`error` says so);
- `dead`: it used up `max_deliveries` (or named an unknown engine, or could not be decoded) and was moved to
  the pool's dead-letter stream with its last `error`; it can be re-driven (`deadletter.py`).

`succeeded`, `failed` and `dead` are final: a late duplicate run (at-least-once delivery) never overwrites
them, which is what makes completion idempotent from the caller's point of view.
"""

from __future__ import annotations

import enum
import json
import os
import threading
import time
from typing import Annotated

import pydantic

from neuroedge_queue import keys, tracecontext

ENGINE_NAME = r"^[a-z][a-z0-9_.-]{0,99}$"
FIELD = b"job"
"""The stream entry's only field."""


class Status(enum.StrEnum):
    """Values of the `status` field of a job hash (see the module docstring)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


FINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.DEAD})


class JobDecodeError(ValueError):
    """A stream entry or job hash that is not a valid job (the message says which field and why)."""


class Job(pydantic.BaseModel):
    """One unit of work for an engine, as it travels in the stream."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, pydantic.StringConstraints(pattern=keys.JOB_ID.pattern)]
    engine: Annotated[str, pydantic.StringConstraints(pattern=ENGINE_NAME)]
    input: pydantic.JsonValue = None
    kind: Annotated[str, pydantic.StringConstraints(pattern=ENGINE_NAME)] | None = None
    """For a tenant's Engine (`/engine/run`): its kind (`predictive`, `agent`, ...), which the worker runs
    with `config`; None for the built-in named handlers (`noop`, `echo`, the test engines)."""
    config: dict[str, pydantic.JsonValue] | None = None
    """The Engine's configuration as the API read it from the registry when it enqueued the job, so the
    worker needs no database access and a job runs with the configuration it was accepted under."""
    attempts: Annotated[int, pydantic.Field(ge=0)] = 0
    """Earlier attempts that ended in an error and were retried (0 when first enqueued or re-driven)."""
    deadline: float | None = None
    """Epoch seconds after which the job is not started (status `failed`); None: no deadline."""
    idempotency_key: str | None = None
    enqueued_at: float
    """Epoch seconds when the producer enqueued it (for the enqueue-to-start latency)."""
    traceparent: Annotated[str, pydantic.StringConstraints(pattern=tracecontext.TRACEPARENT)] | None = None
    """W3C trace context of the enqueue (tracing on only): the worker's span for the job continues it."""


class JobState(pydantic.BaseModel):
    """The job hash as the API shows it."""

    model_config = pydantic.ConfigDict(frozen=True)

    id: str
    status: Status
    engine: str
    attempts: int = 0
    enqueued_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    retry_at: float | None = None
    worker: str | None = None
    result: pydantic.JsonValue = None
    error: str | None = None


class _Ulid:
    """Monotonic ULIDs: 48 bits of milliseconds then 80 random bits, incremented within one millisecond so
    that ids made by one process sort in creation order."""

    _ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_rand = 0

    def new(self, now_ms: int | None = None) -> str:
        ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        with self._lock:
            if ms <= self._last_ms:
                ms, rand = self._last_ms, (self._last_rand + 1) & ((1 << 80) - 1)
            else:
                rand = int.from_bytes(os.urandom(10), "big")
            self._last_ms, self._last_rand = ms, rand
        return self.encode((ms << 80) | rand)

    @classmethod
    def encode(cls, value: int) -> str:
        chars = []
        for _ in range(26):
            chars.append(cls._ALPHABET[value & 31])
            value >>= 5
        return "".join(reversed(chars))


_ulid = _Ulid()


def new_job_id(now_ms: int | None = None) -> str:
    """A sortable, unique job id (ULID)."""
    return _ulid.new(now_ms)


def id_time(job_id: str) -> float:
    """Epoch seconds encoded in a job id."""
    value = 0
    for char in keys.check_job_id(job_id)[:10]:
        value = value * 32 + _Ulid._ALPHABET.index(char)
    return value / 1000


def encode(job: Job) -> bytes:
    """The stream field value of `job`."""
    return job.model_dump_json(exclude_defaults=True).encode()


def decode(raw: bytes) -> Job:
    """The job in a stream field value, or JobDecodeError saying what is wrong."""
    try:
        return Job.model_validate_json(raw)
    except pydantic.ValidationError as exc:
        raise JobDecodeError(first_error(exc)) from None


def decode_entry(fields: dict[bytes, bytes]) -> Job:
    """The job of a stream entry (`{b"job": <json>}`)."""
    raw = fields.get(FIELD)
    if raw is None:
        raise JobDecodeError(f"stream entry has no {FIELD.decode()!r} field")
    return decode(raw)


def decode_state(job_id: str, fields: dict[bytes, bytes]) -> JobState:
    """The state in a job hash (HGETALL reply), or JobDecodeError."""
    values: dict[str, object] = {k.decode(): v.decode() for k, v in fields.items()}
    values["id"] = job_id
    try:
        if "result" in values:
            values["result"] = json.loads(str(values["result"]))
        return JobState.model_validate(values)
    except json.JSONDecodeError as exc:
        raise JobDecodeError(f"invalid job state: result: {exc}") from None
    except pydantic.ValidationError as exc:
        raise JobDecodeError(first_error(exc)) from None


def first_error(exc: pydantic.ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "job"
    return f"invalid job: {where}: {error['msg']}"
