"""Bounds on the request path that share their event-loop timers: `asyncio.timeout`, without a timer per use.

Why: an authenticated request is bounded twice (the request's own timeout, and the rate limiter's Redis
call), and each `asyncio.timeout` makes a `Timeout` object, schedules a timer on the event loop and cancels
it again, although almost no request ever reaches its bound. Here a bound's deadline is rounded up to the
next multiple of `resolution` (a slot), and the bounds ending in the same slot share one loop timer, which
cancels their tasks when it fires: under load a slot timer serves hundreds of requests. A bound therefore
ends between its seconds and its seconds plus the resolution after it began (an `asyncio.timeout` ends a
little late too: when the loop next runs its timers).

What happens at the bound is `asyncio.timeout`'s, step for step (`asyncio.Timeout.__aexit__`): the task is
cancelled; if that cancellation ends the bounded await uncaught and nothing else cancelled the task, the
caller gets a TimeoutError in its place; the task's cancellation count is restored either way. A bound used
from another event loop than the first one that used it (tests, threads) is an `asyncio.timeout`."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

RESOLUTION_SECONDS = 0.01
"""How late past its seconds a bound may end (the slot width)."""


class _Bound:
    """One bounded await in flight: its task, and whether its slot's timer cancelled it."""

    __slots__ = ("expired", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.expired = False


class Deadlines:
    """The bounds of one event loop (the first that uses it), grouped into slots of `resolution` seconds."""

    def __init__(self, resolution: float = RESOLUTION_SECONDS) -> None:
        if resolution <= 0:
            raise ValueError("resolution must be positive")
        self._resolution = resolution
        self._slots: dict[int, dict[_Bound, None]] = {}
        """The bounds in flight by the slot they end in; a slot leaves when its timer fires."""
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self, awaitable: Awaitable[T], seconds: float | None) -> T:
        """`await awaitable`, cut after `seconds` (None: not bounded) with a TimeoutError, as
        `async with asyncio.timeout(seconds): return await awaitable` would."""
        if seconds is None:
            return await awaitable
        task = asyncio.current_task()
        loop = task.get_loop() if task is not None else None
        if task is None or loop is None or (self._loop is not None and loop is not self._loop):
            async with asyncio.timeout(seconds):
                return await awaitable
        self._loop = loop
        members = self._members(loop, math.ceil((loop.time() + seconds) / self._resolution))
        bound = _Bound(task)
        members[bound] = None
        cancelling = task.cancelling()
        try:
            result = await awaitable
        except BaseException as exc:
            members.pop(bound, None)
            # As `asyncio.Timeout.__aexit__`: an expired bound always undoes its cancellation's count.
            if bound.expired and task.uncancel() <= cancelling and isinstance(exc, asyncio.CancelledError):
                raise TimeoutError from exc
            raise
        members.pop(bound, None)
        if bound.expired:  # cancelled, but the cancellation was caught below: undo its count
            task.uncancel()
        return result

    def in_flight(self) -> int:
        """How many bounded awaits are in flight (none once every await is done)."""
        return sum(len(members) for members in self._slots.values())

    def slots(self) -> int:
        """How many slots have a timer scheduled (one per slot, however many bounds end in it)."""
        return len(self._slots)

    def _members(self, loop: asyncio.AbstractEventLoop, slot: int) -> dict[_Bound, None]:
        """The bounds ending in `slot`, its timer scheduled when the slot is opened."""
        members = self._slots.get(slot)
        if members is None:
            members = self._slots[slot] = {}
            loop.call_at(slot * self._resolution, self._expire, slot)
        return members

    def _expire(self, slot: int) -> None:
        """The slot's timer: cancel the tasks of the bounds still in it (a bound that ended left it)."""
        for bound in self._slots.pop(slot, {}):
            bound.expired = True
            bound.task.cancel()
