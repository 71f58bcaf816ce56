"""Bounded password hashing: scrypt costs tens of milliseconds of CPU and 16 MiB per call, so unauthenticated
callers flooding /auth/login could otherwise take every core. At most `slots` hashes run at once (in threads,
off the event loop), at most `queue` more wait, and anything beyond is refused at once with 503."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from neuroedge_runtime import problems

T = TypeVar("T")


class HashingLimiter:
    """Runs password hashing in threads with bounded concurrency and a bounded wait queue."""

    def __init__(self, slots: int, queue: int) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._capacity = slots + queue
        self._admitted = 0

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in a thread once a slot is free; 503 when too many are already waiting."""
        if self._admitted >= self._capacity:
            raise problems.Problem(
                503, "busy", "Busy", "too many logins at once; retry shortly", headers={"Retry-After": "1"}
            )
        self._admitted += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(fn, *args)
        finally:
            self._admitted -= 1
