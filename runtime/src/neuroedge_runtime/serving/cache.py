"""The loaded models of one process, least recently used first out when their total size passes the cap.

Pure bookkeeping (no I/O): the serving service puts and gets; what `put` evicts is returned so the caller can
release it (close its batcher). The size of a model is the resident memory its load added (see
`sessions.charged_size`; the benchmark compares it with the process's measured growth).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar


class Sized(Protocol):
    """Anything the cache holds: it knows its size in bytes."""

    @property
    def size(self) -> int:
        """Bytes the entry takes."""
        ...


V = TypeVar("V", bound=Sized)


class ModelCache(Generic[V]):
    """Key -> loaded model, at most `capacity` bytes in all (the newest entry stays even if alone it is
    larger)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        """The entry of `key` (now the most recently used), if loaded."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: V) -> list[V]:
        """Add `entry`; returns the entries evicted to make room."""
        evicted: list[V] = []
        old = self._entries.pop(key, None)
        if old is not None and old is not entry:
            evicted.append(old)
        self._entries[key] = entry
        while self.total() > self._capacity and len(self._entries) > 1:
            _, oldest = self._entries.popitem(last=False)
            evicted.append(oldest)
        return evicted

    def pop(self, key: Hashable) -> V | None:
        """Remove the entry of `key`."""
        return self._entries.pop(key, None)

    def clear(self) -> list[V]:
        """Remove and return every entry."""
        entries = list(self._entries.values())
        self._entries.clear()
        return entries

    def total(self) -> int:
        """Bytes of all loaded entries."""
        return sum(entry.size for entry in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
