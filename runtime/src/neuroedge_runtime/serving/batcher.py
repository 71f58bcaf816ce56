"""Dynamic batching: concurrent requests for one model are stacked along the first dimension into one run and
split back, so a busy model runs fewer, larger batches.

When a batch starts: as soon as the requests waiting fill `max_batch_size` rows; when a run of this model ends
and requests are waiting (they queued while the session was busy, so waiting longer would only add latency:
everything waiting goes, up to `max_batch_size` rows); otherwise when the oldest waiting request has waited
`max_delay` (an idle model gathers what arrives meanwhile). At most `concurrency` batches run at once.

Requests reach the batcher already validated (one bad request is refused before it could spoil a batch). A
request bigger than `max_batch_size` rows runs alone. Requests are stacked only with requests whose tensors
agree on names, datatypes and every dimension but the first; the others wait for the next batch. If a batch
run fails, each of its requests is run alone, so a failure stays with the request that causes it.

The bookkeeping costs the event loop a few microseconds per request (a deque, one timer per wait, slices of
the batch's outputs): under load it runs once per request on the loop that also serves HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from neuroedge_runtime.serving import tensors

Inputs = Mapping[str, tensors.Array]
Outputs = dict[str, tensors.Array]
Run = Callable[[Inputs], Awaitable[Outputs]]


@dataclass(frozen=True)
class BatchingSettings:
    """`spec.batching` of an Engine."""

    max_batch_size: int
    max_delay_seconds: float


@dataclass(eq=False, slots=True)
class _Pending:
    """One caller's request waiting for a batch; compared by identity (its fields hold arrays, whose `==` is
    elementwise and has no truth value). `since` is the event loop's clock when it arrived."""

    inputs: Inputs
    rows: int
    key: tuple[Any, ...]
    future: asyncio.Future[Outputs]
    since: float


def _key(inputs: Inputs) -> tuple[Any, ...]:
    return tuple(sorted((n, a.dtype.str, a.shape[1:]) for n, a in inputs.items()))


def rows_of(inputs: Inputs) -> int:
    """Size of the first dimension of the request's tensors."""
    return int(next(iter(inputs.values())).shape[0])


def stack(batch: list[Inputs]) -> dict[str, tensors.Array]:
    """The requests' tensors concatenated along the first dimension (pure)."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    return {name: np.concatenate([item[name] for item in batch]) for name in batch[0]}


def split(outputs: Outputs, rows: list[int]) -> list[Outputs]:
    """Each request's share of a batch's outputs, by its row count (pure): views of the batch's arrays, one
    slice per request and output (no copy); ValueError when an output does not have one row per input row (it
    cannot be split back)."""
    total = sum(rows)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            raise ValueError(f"output {name!r} has no row per input row; it cannot be batched")
    items = list(outputs.items())
    bounds = zip(rows, itertools.accumulate(rows), strict=True)
    return [{name: array[end - count : end] for name, array in items} for count, end in bounds]


class Batcher:
    """Collects requests for one model and runs them in batches, at most `concurrency` batches at a time."""

    def __init__(
        self,
        run: Run,
        settings: BatchingSettings,
        concurrency: int = 2,
        observe: Callable[[int], None] = lambda rows: None,
    ) -> None:
        self._run = run
        self._observe = observe
        self._settings = settings
        self._concurrency = concurrency
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._timer: asyncio.TimerHandle | None = None
        self._runs: set[asyncio.Task[None]] = set()
        self._closed = False

    async def submit(self, inputs: Inputs) -> Outputs:
        """The outputs of one request, run in a batch with whatever else arrives meanwhile."""
        rows = rows_of(inputs)
        if rows > self._settings.max_batch_size or self._closed:
            return await self._run(inputs)  # oversize, or the model was just unloaded: alone
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outputs] = loop.create_future()
        self._queue.append(_Pending(inputs, rows, _key(inputs), future, loop.time()))
        self._queued_rows += rows
        self._dispatch(ended=False)
        return await future

    async def close(self) -> None:
        """Stop collecting; runs under way finish, requests still waiting are cancelled."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._runs):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for item in self._queue:
            item.future.cancel()
        self._queue.clear()
        self._queued_rows = 0

    def _dispatch(self, ended: bool) -> None:
        """Start the batches that are due (see the module's docstring); `ended`: a run just ended."""
        loop = asyncio.get_running_loop()
        while self._queue and len(self._runs) < self._concurrency and not self._closed:
            full = self._queued_rows >= self._settings.max_batch_size
            deadline = self._queue[0].since + self._settings.max_delay_seconds
            if not (full or ended or deadline <= loop.time()):
                if self._timer is None:
                    self._timer = loop.call_at(deadline, self._on_timer)
                return
            batch = self._take()
            if not batch:
                return
            task = loop.create_task(self._execute(batch))
            self._runs.add(task)
            task.add_done_callback(self._ended)
            ended = False

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch(ended=False)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._runs.discard(task)
        self._dispatch(ended=True)

    def _take(self) -> list[_Pending]:
        """The first waiting request and those after it with the same key, up to `max_batch_size` rows
        (cancelled callers' requests are dropped); the others keep their place."""
        budget = self._settings.max_batch_size
        batch: list[_Pending] = []
        kept: deque[_Pending] = deque()
        key: tuple[Any, ...] | None = None
        while self._queue and budget:
            item = self._queue.popleft()
            if item.future.done():
                self._queued_rows -= item.rows
            elif (key is None or item.key == key) and item.rows <= budget:
                key = item.key
                batch.append(item)
                budget -= item.rows
                self._queued_rows -= item.rows
            else:
                kept.append(item)
        kept.extend(self._queue)
        self._queue = kept
        return batch

    async def _execute(self, batch: list[_Pending]) -> None:
        try:
            self._observe(sum(p.rows for p in batch))
            outputs = await self._run(stack([p.inputs for p in batch]))
            shares = split(outputs, [p.rows for p in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0].future, exc)
            else:
                await asyncio.gather(*(self._alone(p) for p in batch))
            return
        for item, share in zip(batch, shares, strict=True):
            if not item.future.done():
                item.future.set_result(share)

    async def _alone(self, item: _Pending) -> None:
        try:
            result = await self._run(item.inputs)
        except Exception as exc:
            _settle(item.future, exc)
            return
        if not item.future.done():
            item.future.set_result(result)


def _settle(future: asyncio.Future[Outputs], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
