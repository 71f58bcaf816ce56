"""The write fence: no client writes (Kubernetes, SQL, Redis, vector stores) unless this replica leads.

The leader election moves the fence forward after each successful renewal and closes it the moment the
leadership ends. Writers check it synchronously, just before sending, against the monotonic clock; so a
leader that was frozen (SIGSTOP, a long GC pause) past its deadline refuses its own writes when it wakes up,
before the election loop has even run. A process without leader election leaves the fence open.
"""

from __future__ import annotations

import math
import threading
import time

from neuroedge_operator import metrics


class NotLeaderError(RuntimeError):
    """A write was refused: this replica does not hold the operator's Lease (or its lease ran out)."""


class Fence:
    """Open until `valid_until` on the monotonic clock; shared by every thread of the process."""

    def __init__(self) -> None:
        self._valid_until = math.inf
        self._lock = threading.Lock()

    def open_until(self, deadline: float) -> None:
        """Allow writes until the monotonic time `deadline`."""
        with self._lock:
            self._valid_until = deadline

    def close(self) -> None:
        """Refuse every write from now on (until opened again)."""
        with self._lock:
            self._valid_until = -math.inf

    def is_open(self) -> bool:
        return time.monotonic() < self._valid_until

    def check(self, what: str) -> None:
        """Raise NotLeaderError unless writes are allowed now."""
        if not self.is_open():
            metrics.FENCED_WRITES.labels(what.split(" ", 1)[0]).inc()
            raise NotLeaderError(f"refused {what}: this operator replica is not the leader")


FENCE = Fence()
"""The process's one fence (like the metrics: one per process, whatever the number of clients)."""
