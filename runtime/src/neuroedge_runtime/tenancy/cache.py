"""An in-process cache of registry rows, exact for as long as the change feed is live.

Registry rows change a few times a day and are read on every request, so each process keeps them, absent
rows included (an unknown engine name is asked about as often as a known one). An entry is dropped when a
change names its row; nothing is kept while the feed is down; and a row read while any change arrived is
returned but not kept, since it may predate that change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from prometheus_client import Counter

from neuroedge_runtime.tenancy import changes

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RegistryCache(Generic[K, V]):
    """Rows of one registry table by key; `key_of` names the key a change affects (None: every key)."""

    def __init__(
        self,
        feed: changes.Feed | None,
        table: str,
        key_of: Callable[[changes.Change], K | None],
        lookups: Counter | None = None,
        max_entries: int = 100_000,
    ) -> None:
        self._feed = feed
        self._key_of = key_of
        self._max = max_entries
        self._entries: dict[K, V] = {}
        # Label children resolved once, not per request.
        self._hits = lookups.labels(table, "cache") if lookups is not None else None
        self._reads = lookups.labels(table, "database") if lookups is not None else None
        if feed is not None:
            feed.subscribe(table, self._changed)

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached row of `key`, else what `load` reads (kept when that is safe)."""
        feed = self._feed
        if feed is not None and feed.live and key in self._entries:
            if self._hits is not None:
                self._hits.inc()
            return self._entries[key]
        if self._reads is not None:
            self._reads.inc()
        if feed is None or not feed.live:
            return await load()
        epoch = feed.epoch
        value = await load()
        if feed.live and feed.epoch == epoch:
            if len(self._entries) >= self._max:
                self._entries.clear()  # a bound, not a policy: rows are re-read on demand
            self._entries[key] = value
        return value

    def _changed(self, change: changes.Change | None) -> None:
        key = None if change is None else self._key_of(change)
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
