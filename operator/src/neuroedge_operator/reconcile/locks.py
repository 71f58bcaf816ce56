"""One asyncio lock per object key, held only while someone uses it.

The periodic loop runs beside kopf's event handlers, so a resync and an update of the same object could
reconcile at once; each object's passes take its lock. Objects come and go (every Engine, WorkerPool and
VectorIndex ever seen has a key), so a lock is dropped as soon as nobody holds it or waits for it: the map
holds only the keys in use, not every key since start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
    """Holders plus waiters: the entry goes when this drops to 0."""


class KeyedLocks:
    """`async with locks.hold(key):` excludes every other holder of `key`; not re-entrant."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        """How many keys are held or waited for right now."""
        return len(self._entries)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1  # no await between lookup and count: no other task can drop the entry in between
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._entries[key]
