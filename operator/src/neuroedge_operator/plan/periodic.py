"""Pure bookkeeping of the periodic passes (resync, schedules, autoscaling): which objects are due now.

The operator used to give every object a kopf timer per periodic step: an asyncio task per object and step,
and kopf kept each object's full body alive for them. One loop per operator now walks the watch caches and
asks a `Ledger` per step which objects are due; the ledger holds one float per object.

The semantics are those of the kopf timers it replaces (`sharp=False`): an object's first pass comes
`initial_delay` after it is first seen, every later one `interval` after the previous one ended, whatever
other passes (create, update, a Deployment event) ran in between.
"""

from __future__ import annotations

from collections.abc import Iterable


class Ledger:
    """When each object's next pass of one periodic step is due (keys are the objects' `namespace/name`)."""

    def __init__(self, interval: float, initial_delay: float = 0.0) -> None:
        if interval <= 0:
            raise ValueError(f"a periodic interval must be positive, not {interval}")
        self.interval, self.initial_delay = interval, initial_delay
        self._next: dict[str, float] = {}
        self._running: set[str] = set()

    def __len__(self) -> int:
        return len(self._next)

    def due(self, present: Iterable[str], now: float) -> list[str]:
        """The present objects whose pass is due and not already running, the longest overdue first.

        Objects seen for the first time get their first due time (`initial_delay` from now); objects no longer
        present are forgotten, so the ledger never holds more than the cache does."""
        schedule: dict[str, float] = {}
        for key in present:
            schedule[key] = self._next.get(key, now + self.initial_delay)
        self._next = schedule
        self._running &= schedule.keys()
        ready = [key for key, at in schedule.items() if at <= now and key not in self._running]
        return sorted(ready, key=lambda key: schedule[key])

    def started(self, key: str) -> None:
        """A pass of `key` began: it is not due again until it ends."""
        self._running.add(key)

    def finished(self, key: str, now: float) -> None:
        """A pass of `key` ended (well or not): the next one is due `interval` from now."""
        self._running.discard(key)
        if key in self._next:
            self._next[key] = now + self.interval

    def next_due(self) -> float | None:
        """The earliest due time of an object not running now (None when there is none)."""
        waiting = [at for key, at in self._next.items() if key not in self._running]
        return min(waiting) if waiting else None


def pause(next_due: Iterable[float | None], now: float, longest: float) -> float:
    """Seconds to sleep until the earliest due time of any ledger, at most `longest` (new objects are only
    noticed when the loop wakes, and their first pass is `initial_delay` after that) and never negative."""
    times = [at for at in next_due if at is not None]
    if not times:
        return longest
    return max(0.0, min(longest, min(times) - now))
