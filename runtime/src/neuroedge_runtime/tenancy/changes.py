"""Registry change notifications: the runtime caches registry rows (tenants, engines, vector indexes) in each
process and drops an entry the moment PostgreSQL says its row changed.

The registry tables carry a trigger (migration 3) that calls `pg_notify('neuroedge_registry', ...)` with the
table, tenant and name of every inserted, updated or deleted row; notifications are delivered on commit, to
every listening replica, within milliseconds. Whoever writes the row (the operator, a migration, a person with
psql) needs no code of ours to notify.

A notification can be lost only while the listening connection is down, so the feed is "live" only while it
is connected and listening: caches keep nothing while it is not (every lookup reads the database), and every
(re)connection starts with empty caches. A connection that dies is noticed by asyncpg's termination callback
or, for one that hangs, by a periodic ping.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

CHANNEL = "neuroedge_registry"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One changed registry row: its table, tenant and (for engines and indexes) name."""

    table: str
    tenant: str
    name: str | None = None


def parse(payload: str) -> Change | None:
    """The change a notification describes; None for a payload that is not one of ours."""
    try:
        raw = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    table, tenant, name = raw.get("table"), raw.get("tenant"), raw.get("name")
    if not isinstance(table, str) or not isinstance(tenant, str):
        return None
    return Change(table, tenant, name if isinstance(name, str) else None)


Subscriber = Callable[[Change | None], None]
"""Called with each change of its table, or with None when everything must be forgotten (a reconnection)."""


class Feed:
    """One listening connection per process, shared by every registry cache."""

    def __init__(self, dsn: str, ping_seconds: float = 5.0, retry_seconds: float = 0.5) -> None:
        self._dsn = dsn
        self._ping = ping_seconds
        self._retry = retry_seconds
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self.epoch = 0
        """Incremented on every change and reset: a value read from the database while it moved may be
        stale, and is not cached."""

    @property
    def live(self) -> bool:
        """Whether changes are being received now (caches may keep entries only then)."""
        return self._connected.is_set()

    def subscribe(self, table: str, subscriber: Subscriber) -> None:
        self._subscribers.setdefault(table, []).append(subscriber)

    def _reset(self) -> None:
        self.epoch += 1
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber(None)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        change = parse(payload)
        self.epoch += 1
        if change is None:
            log.warning("registry notification not understood, forgetting every cached row: %r", payload)
            self._reset()
            return
        for subscriber in self._subscribers.get(change.table, ()):
            subscriber(change)

    def _terminated(self, _conn: object) -> None:
        self._went_down()

    def _went_down(self) -> None:
        if self._connected.is_set():
            log.warning("registry notifications lost; reading the database until they are back")
        self._connected.clear()
        self._reset()
        self._lost.set()

    async def wait_live(self, seconds: float) -> bool:
        """Wait until the feed listens (tests and start-up); False on timeout."""
        try:
            async with asyncio.timeout(seconds):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any failure."""
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("registry notification connection failed: %s", type(exc).__name__)
            self._went_down()
            await asyncio.sleep(self._retry)

    async def _listen_once(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(
            self._dsn, timeout=5, server_settings={"application_name": "neuroedge-runtime-registry-feed"}
        )
        try:
            self._lost.clear()
            conn.add_termination_listener(self._terminated)
            await conn.add_listener(CHANNEL, self._notified)
            self._reset()  # whatever happened while nobody listened is unknown
            self._connected.set()
            while not self._lost.is_set():
                try:
                    async with asyncio.timeout(self._ping):
                        await self._lost.wait()
                except TimeoutError:
                    await conn.fetchval("SELECT 1", timeout=self._ping)
        finally:
            self._connected.clear()
            if not conn.is_closed():
                conn.terminate()
