"""Bounds that share their loop timers (`deadlines.Deadlines`) behave as `asyncio.timeout` does: a
TimeoutError past the bound and never before it, someone else's cancellation passed on untouched, nested
bounds each answering for their own expiry, a caught cancellation undone; and bounds ending in the same
slot share one timer. Run on real event loops (the standard one and uvloop, which the API uses)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop

from neuroedge_runtime import deadlines

RESOLUTION = 0.01

Loops = Callable[[Coroutine[Any, Any, None]], None]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Loops:
    """Run a test's coroutine to completion on a fresh loop of each kind."""
    if request.param == "uvloop":
        return uvloop.run
    return asyncio.run


def test_an_await_that_ends_in_time_gives_its_result_and_leaves_nothing(run: Loops) -> None:
    async def main() -> None:
        bounds = deadlines.Deadlines(RESOLUTION)
        assert await bounds.run(asyncio.sleep(0, "done"), 5.0) == "done"
        assert await bounds.run(asyncio.sleep(0, "unbounded"), None) == "unbounded"
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        assert bounds.in_flight() == 0

    run(main())


def test_an_overrun_is_a_timeout_error_not_before_its_bound(run: Loops) -> None:
    async def main() -> None:
        bounds = deadlines.Deadlines(RESOLUTION)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await bounds.run(asyncio.sleep(30), 0.05)
        # Not before its seconds (less the loop's millisecond timer rounding), nor at the sleep's end.
        assert 0.05 - 0.002 <= loop.time() - started < 10
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0  # its own cancellation undone
        assert bounds.in_flight() == 0

    run(main())


def test_someone_elses_cancellation_stays_a_cancellation(run: Loops) -> None:
    async def main() -> None:
        bounds = deadlines.Deadlines(RESOLUTION)
        task = asyncio.ensure_future(bounds.run(asyncio.sleep(30), 5.0))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert bounds.in_flight() == 0

    run(main())


def test_nested_bounds_each_answer_for_their_own_expiry(run: Loops) -> None:
    async def inner_shorter(bounds: deadlines.Deadlines) -> str:
        try:
            await bounds.run(asyncio.sleep(30), 0.03)
        except TimeoutError:
            return "inner timed out, outer carried on"
        return "not cut"

    async def outer_shorter(bounds: deadlines.Deadlines) -> None:
        await bounds.run(asyncio.sleep(30), 5.0)  # its CancelledError passes through untouched

    async def main() -> None:
        bounds = deadlines.Deadlines(RESOLUTION)
        assert await bounds.run(inner_shorter(bounds), 5.0) == "inner timed out, outer carried on"
        with pytest.raises(TimeoutError):
            await bounds.run(outer_shorter(bounds), 0.03)
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        assert bounds.in_flight() == 0

    run(main())


def test_bounds_expiring_in_the_same_slot_both_time_out(run: Loops) -> None:
    """Outer and inner ending in one slot: the task is cancelled twice, the inner bound passes the
    cancellation on, the outer one answers it (as with two `asyncio.timeout`s firing together)."""

    async def main() -> None:
        bounds = deadlines.Deadlines(1.0)  # wide slots: both bounds land in the same one
        with pytest.raises(TimeoutError):
            await bounds.run(bounds.run(asyncio.sleep(30), 0.01), 0.02)
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0

    run(main())


def test_a_cancellation_caught_inside_is_undone(run: Loops) -> None:
    async def swallows() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "caught it"
        return "slept"

    async def main() -> None:
        bounds = deadlines.Deadlines(RESOLUTION)
        assert await bounds.run(swallows(), 0.02) == "caught it"
        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0
        await asyncio.sleep(0)  # no cancellation left pending for this task

    run(main())


def test_an_error_raised_inside_passes_through(run: Loops) -> None:
    async def fails() -> None:
        raise LookupError("inside")

    async def main() -> None:
        bounds = deadlines.Deadlines(RESOLUTION)
        with pytest.raises(LookupError, match="inside"):
            await bounds.run(fails(), 5.0)
        assert bounds.in_flight() == 0

    run(main())


def test_concurrent_bounds_ending_together_share_one_timer(run: Loops) -> None:
    async def main() -> None:
        bounds = deadlines.Deadlines(60.0)  # one slot holds every bound started in this test
        release = asyncio.Event()
        tasks = [asyncio.ensure_future(bounds.run(release.wait(), 30.0)) for _ in range(100)]
        await asyncio.sleep(0)
        assert bounds.in_flight() == 100
        assert bounds.slots() <= 2  # a slot boundary may fall between two starts
        release.set()
        assert all(await asyncio.gather(*tasks))
        assert bounds.in_flight() == 0

    run(main())


def test_another_loop_is_bounded_too() -> None:
    bounds = deadlines.Deadlines(RESOLUTION)

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await bounds.run(asyncio.sleep(30), 0.02)
        assert await bounds.run(asyncio.sleep(0, "in time"), 5.0) == "in time"

    asyncio.run(main())  # the loop these bounds belong to
    asyncio.run(main())  # another one: bounded by asyncio.timeout


def test_resolution_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        deadlines.Deadlines(0)
