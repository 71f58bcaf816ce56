"""A worker's background loops stop when cancelled even if a client library swallowed the CancelledError:
the worker's shutdown awaits them, so one that ran on kept SIGTERM from ever ending the process."""

from __future__ import annotations

import asyncio

from neuroedge_runtime.queue import reclaim


async def _swallowing_call() -> None:
    """What redis-py did under load: the cancel landed inside the command and the command returned."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        return


async def _loop(passes: list[int]) -> None:
    while True:
        await _swallowing_call()
        passes.append(1)
        reclaim.raise_if_cancelled()
        await asyncio.sleep(0)


async def test_a_loop_whose_cancel_was_swallowed_still_stops() -> None:
    passes: list[int] = []
    task = asyncio.create_task(_loop(passes))
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    if not done:  # without the check it runs on; end it for good before failing
        passes.append(-1)
        task.get_coro().close()  # type: ignore[union-attr]
    assert task in done and task.cancelled()
    assert passes == [1]  # it noticed on the very pass that swallowed the cancel


async def test_an_uncancelled_task_goes_on() -> None:
    reclaim.raise_if_cancelled()  # nothing to do: no cancel requested
