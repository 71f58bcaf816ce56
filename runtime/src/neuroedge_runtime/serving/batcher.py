"""Dynamic batching: concurrent requests for one model are stacked along the first dimension into one run and
split back, so a busy model runs fewer, larger batches.

Requests reach the batcher already validated (one bad request is refused before it could spoil a batch). A
request bigger than `max_batch_size` rows runs alone. Requests are stacked only with requests whose tensors
agree on names, datatypes and every dimension but the first; the others wait for the next batch. If a batch
run fails, each of its requests is run alone, so a failure stays with the request that causes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
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


@dataclass(eq=False)
class _Pending:
    """One caller's request waiting for a batch; compared by identity (its fields hold arrays, whose `==` is
    elementwise and has no truth value)."""

    inputs: Inputs
    rows: int
    key: tuple[Any, ...]
    future: asyncio.Future[Outputs]
    since: float = field(default_factory=time.monotonic)


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
    """Each request's share of a batch's outputs, by its row count (pure); ValueError when an output does not
    have one row per input row (it cannot be split back)."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    total = sum(rows)
    for name, array in outputs.items():
        if array.ndim == 0 or array.shape[0] != total:
            raise ValueError(f"output {name!r} has no row per input row; it cannot be batched")
    bounds = np.cumsum(rows)[:-1]
    parts = {name: np.split(array, bounds) for name, array in outputs.items()}
    return [{name: parts[name][i] for name in outputs} for i in range(len(rows))]


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
        self._pending: list[_Pending] = []
        self._arrived = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._task: asyncio.Task[None] | None = None
        self._runs: set[asyncio.Task[None]] = set()

    async def submit(self, inputs: Inputs) -> Outputs:
        """The outputs of one request, run in a batch with whatever else arrives meanwhile."""
        rows = rows_of(inputs)
        if rows > self._settings.max_batch_size:
            return await self._run(inputs)
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="batcher")
        future: asyncio.Future[Outputs] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(inputs, rows, _key(inputs), future))
        self._arrived.set()
        return await future

    async def close(self) -> None:
        """Stop collecting; requests still waiting are cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._runs):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for item in self._pending:
            item.future.cancel()

    async def _loop(self) -> None:
        while True:
            await self._arrived.wait()
            await self._slots.acquire()
            await self._fill()
            batch = self._take()
            if self._pending:
                self._arrived.set()  # requests left for the next batch (another shape, or no room)
            else:
                self._arrived.clear()
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._execute(batch))
            self._runs.add(task)
            task.add_done_callback(self._runs.discard)

    async def _fill(self) -> None:
        """Wait until the batch is full or the oldest request has waited `max_delay`."""
        deadline = self._pending[0].since + self._settings.max_delay_seconds if self._pending else 0.0
        while self._pending and sum(p.rows for p in self._pending) < self._settings.max_batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    def _take(self) -> list[_Pending]:
        self._pending = [p for p in self._pending if not p.future.done()]
        if not self._pending:
            return []
        key, budget = self._pending[0].key, self._settings.max_batch_size
        batch: list[_Pending] = []
        for item in list(self._pending):
            if item.key == key and item.rows <= budget:
                batch.append(item)
                budget -= item.rows
                self._pending.remove(item)
        return batch

    async def _execute(self, batch: list[_Pending]) -> None:
        try:
            try:
                self._observe(sum(p.rows for p in batch))
                outputs = await self._run(stack([p.inputs for p in batch]))
                shares = split(outputs, [p.rows for p in batch])
            except Exception:
                if len(batch) == 1:
                    raise
                await asyncio.gather(*(self._alone(p) for p in batch))
                return
            for item, share in zip(batch, shares, strict=True):
                if not item.future.done():
                    item.future.set_result(share)
        except Exception as exc:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
        finally:
            self._slots.release()

    async def _alone(self, item: _Pending) -> None:
        try:
            result = await self._run(item.inputs)
        except Exception as exc:
            if not item.future.done():
                item.future.set_exception(exc)
            return
        if not item.future.done():
            item.future.set_result(result)
