"""Password hashing is bounded: a flood of logins waits in a bounded queue, beyond which it is refused."""

from __future__ import annotations

import asyncio
import threading

import pytest

from neuroedge_runtime import problems
from neuroedge_runtime.auth.kdf import HashingLimiter


async def test_hashing_runs_at_most_slots_at_once_and_refuses_beyond_the_queue() -> None:
    limiter = HashingLimiter(slots=1, queue=1)
    release = threading.Event()
    running: list[int] = []

    def work(n: int) -> int:
        running.append(n)
        release.wait(5)
        return n

    first = asyncio.create_task(limiter.run(work, 1))
    second = asyncio.create_task(limiter.run(work, 2))
    while not running:
        await asyncio.sleep(0.01)
    with pytest.raises(problems.Problem) as refused:
        await limiter.run(work, 3)
    assert refused.value.status == 503 and refused.value.headers["Retry-After"] == "1"
    assert running == [1]  # the second waits for the only slot
    release.set()
    assert await asyncio.gather(first, second) == [1, 2]
    assert await limiter.run(lambda: 4) == 4  # capacity is back
