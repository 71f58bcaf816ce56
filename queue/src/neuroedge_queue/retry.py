"""Retry policy: exponential backoff with full jitter, shared by the queue and the rest of the code.

Full jitter (a uniform delay between 0 and the exponential bound) spreads the retries of many jobs that failed
together (a dependency was down) instead of sending them back in synchronised waves. `delay` is pure: the
random draw is a parameter, so the bounds are unit-tested exactly.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts."""

    base: float = 0.5
    """Upper bound of the first delay, in seconds; it doubles with every further attempt."""
    cap: float = 60.0
    """No delay is longer than this, in seconds."""
    max_attempts: int = 5
    """Attempts in all (the first one included); for jobs this is the pool's `maxDeliveries`."""

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"retry policy needs 0 < base <= cap, got base={self.base} cap={self.cap}")
        if self.max_attempts < 1:
            raise ValueError(f"retry policy needs max_attempts >= 1, got {self.max_attempts}")

    def bound(self, attempt: int) -> float:
        """The largest delay after failed attempt `attempt` (1-based): min(cap, base * 2**(attempt-1))."""
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {attempt}")
        # min() before the power would overflow for large attempt numbers
        return min(self.cap, self.base * 2.0 ** min(attempt - 1, 64))

    def delay(self, attempt: int, draw: float) -> float:
        """The delay after failed attempt `attempt`, for a uniform draw in [0, 1)."""
        if not 0.0 <= draw < 1.0:
            raise ValueError(f"draw must be in [0, 1), got {draw}")
        return self.bound(attempt) * draw

    def gives_up_after(self, attempt: int) -> bool:
        """True when attempt number `attempt` was the last one allowed."""
        return attempt >= self.max_attempts


async def call(
    func: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    retry_on: tuple[type[BaseException], ...],
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`await func()`, retried on `retry_on` errors under `policy`; the last error propagates."""
    draw = (rng or random.Random()).random  # noqa: S311 - jitter, not cryptography
    attempt = 1
    while True:
        try:
            return await func()
        except retry_on:
            if policy.gives_up_after(attempt):
                raise
            await sleep(policy.delay(attempt, draw()))
            attempt += 1
