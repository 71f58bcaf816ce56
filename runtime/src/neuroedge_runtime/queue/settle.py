"""The settle step: the one writer that records what happened to jobs and acknowledges their entries.

Workers never write job outcomes themselves: they `submit` small operations here, and one task writes every
operation waiting at that moment with a single EVALSHA of `SETTLE` (group commit: under load a write carries
many jobs, when idle it carries one and adds no delay). Inside the script each job's hash is written before
its entry is acknowledged (XACK) and deleted (XDEL), atomically, so an entry is never acknowledged without its
result stored. A job whose hash is already final (`succeeded`, `failed`, `dead`) is only acknowledged: a late
duplicate run never overwrites the first outcome, so completion is idempotent.

If a write fails for good, its entries simply stay pending and are claimed again (`reclaim.py`): the queue
stays at-least-once without this writer ever having to be perfect.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
import redis.exceptions

from neuroedge_queue import keys, retry, scripts

log = logging.getLogger(__name__)

SETTLE = scripts.LuaScript(
    """
-- KEYS: stream, dlq, delayed, job hashes...; ARGV: group, ttl ms, JSON array of ops, each
--   [kind, job key index (0: none), entry id ('': none), a, b, c]
local stream, dlq, delayed = KEYS[1], KEYS[2], KEYS[3]
local group, ttl = ARGV[1], ARGV[2]
local function final(key)
  local s = redis.call('HGET', key, 'status')
  return s == 'succeeded' or s == 'failed' or s == 'dead'
end
local function done(entry)
  if entry ~= '' then
    redis.call('XACK', stream, group, entry)
    redis.call('XDEL', stream, entry)
  end
end
for _, op in ipairs(cjson.decode(ARGV[3])) do
  local kind, k, entry, a, b, c = op[1], op[2], op[3], op[4], op[5], op[6]
  local key = nil
  if k > 0 then key = KEYS[k] end
  if kind == 'start' then
    if not final(key) then
      redis.call('HSET', key, 'status', 'running', 'attempts', a, 'worker', b, 'started_at', c)
      redis.call('PEXPIRE', key, ttl)
    end
  elseif kind == 'ack' or (key and final(key)) then
    done(entry)
  elseif kind == 'ok' then
    redis.call('HSET', key, 'status', 'succeeded', 'result', a, 'finished_at', b)
    redis.call('HDEL', key, 'error', 'retry_at')
    redis.call('PEXPIRE', key, ttl)
    done(entry)
  elseif kind == 'retry' then
    redis.call('HSET', key, 'status', 'queued', 'error', a, 'retry_at', b)
    redis.call('ZADD', delayed, math.floor(tonumber(b) * 1000), c)
    redis.call('PEXPIRE', key, ttl)
    done(entry)
  elseif kind == 'fail' then
    redis.call('HSET', key, 'status', 'failed', 'error', a, 'finished_at', b)
    redis.call('HDEL', key, 'retry_at')
    redis.call('PEXPIRE', key, ttl)
    done(entry)
  elseif kind == 'dead' then
    redis.call('XADD', dlq, '*', 'job', c, 'error', a, 'failed_at', b)
    if key then
      redis.call('HSET', key, 'status', 'dead', 'error', a, 'finished_at', b)
      redis.call('HDEL', key, 'retry_at')
      redis.call('PEXPIRE', key, ttl)
    end
    done(entry)
  else
    return redis.error_reply('unknown settle operation ' .. kind)
  end
end
return 1
"""
)


@dataclass(frozen=True)
class Op:
    """One operation of the settle script (build them with the functions below)."""

    kind: str
    job_id: str | None
    entry_id: str
    a: str = ""
    b: str = ""
    c: str = ""


def start(job_id: str, attempt: int, worker: str, at: float) -> Op:
    """Mark the job `running` (unless it is already final)."""
    return Op("start", job_id, "", str(attempt), worker, repr(at))


def ack(entry_id: str) -> Op:
    """Only acknowledge and drop the entry (it was deleted from the stream, nothing to run)."""
    return Op("ack", None, entry_id)


def succeed(job_id: str, entry_id: str, result_json: bytes, at: float) -> Op:
    """Store the result, status `succeeded`, acknowledge."""
    return Op("ok", job_id, entry_id, _text(result_json), repr(at))


def retry_later(job_id: str, entry_id: str, error: str, retry_at: float, payload: bytes) -> Op:
    """Status `queued` with the error; the job (`payload`, attempts already incremented) waits in the delayed
    set until `retry_at`; acknowledge the current entry."""
    return Op("retry", job_id, entry_id, error, repr(retry_at), _text(payload))


def fail(job_id: str, entry_id: str, error: str, at: float) -> Op:
    """Status `failed` (not retried), acknowledge."""
    return Op("fail", job_id, entry_id, error, repr(at))


def dead(job_id: str | None, entry_id: str, error: str, at: float, payload: bytes) -> Op:
    """Move the job to the dead-letter stream with its error, status `dead`, acknowledge. `job_id` is None for
    an entry that could not be decoded (then `payload` is its raw content)."""
    return Op("dead", job_id, entry_id, error, repr(at), _text(payload))


def _text(value: bytes) -> str:
    """JSON payloads are UTF-8; the raw content of an undecodable entry may not be, and is kept readable."""
    return value.decode("utf-8", "backslashreplace")


def script_call(
    queue_keys: keys.QueueKeys, ttl_ms: int, ops: list[Op]
) -> tuple[list[str], list[scripts.Arg]]:
    """KEYS and ARGV of one SETTLE call carrying `ops` in order (pure). The operations travel as one JSON
    argument: packing six arguments per operation cost more client time than the whole rest of a no-op job."""
    call_keys = [queue_keys.stream, queue_keys.dlq, queue_keys.delayed]
    index: dict[str, int] = {}
    rows: list[tuple[str, int, str, str, str, str]] = []
    for op in ops:
        slot = 0
        if op.job_id is not None:
            if op.job_id not in index:
                call_keys.append(queue_keys.job(op.job_id))
                index[op.job_id] = len(call_keys)
            slot = index[op.job_id]
        rows.append((op.kind, slot, op.entry_id, op.a, op.b, op.c))
    return call_keys, [keys.GROUP, ttl_ms, json.dumps(rows, ensure_ascii=False, separators=(",", ":"))]


class Settler:
    """Collects operations from the job tasks and writes them in order, many per round trip."""

    def __init__(
        self, client: aioredis.Redis, queue_keys: keys.QueueKeys, result_ttl: float, max_ops: int = 512
    ) -> None:
        self._client = client
        self._keys = queue_keys
        self._ttl_ms = int(result_ttl * 1000)
        self._max_ops = max_ops
        self._ops: list[Op] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._policy = retry.RetryPolicy(base=0.05, cap=2.0, max_attempts=8)

    def submit(self, op: Op) -> None:
        """Queue `op` for the next write (never blocks)."""
        self._ops.append(op)
        self._idle.clear()
        self._wake.set()

    async def run(self) -> None:
        """Write until cancelled; cancel it only after `drain`."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._ops:
                batch, self._ops = self._ops[: self._max_ops], self._ops[self._max_ops :]
                await self._write(batch)
                _raise_if_cancelled()
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every submitted operation has been written (or given up on)."""
        await self._idle.wait()

    async def _write(self, batch: list[Op]) -> None:
        call_keys, args = script_call(self._keys, self._ttl_ms, batch)
        try:
            await retry.call(
                lambda: SETTLE(self._client, call_keys, args),
                self._policy,
                retry_on=(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
            )
        except Exception:
            # Whatever went wrong, nothing of this batch was acknowledged unless its script ran: the entries
            # stay pending and are claimed again later. The writer itself must never die.
            log.exception("could not settle %d job operations; their jobs will be redelivered", len(batch))


def _raise_if_cancelled() -> None:
    """Stop the writer once cancelled even if redis-py swallowed the CancelledError inside a command (the
    worker's shutdown awaits it; see reclaim.raise_if_cancelled)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
