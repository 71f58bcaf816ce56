"""Leader election on the operator's Lease: the loop that acquires, renews and gives up leadership.

Each replica runs one Elector. The pure decision (what to do with the Lease as last observed) lives in
`plan.leadership`; this module only runs it on a clock, talks to the API through `clients.leases`, keeps the
write fence in step with the leadership, and tells the supervisor (run.py) when leadership begins or ends.
Standbys follow the Lease through a watch, so while a leader is healthy they make no API request at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp

from neuroedge_operator import metrics
from neuroedge_operator.builders import lease as lease_builder
from neuroedge_operator.clients import fence, kube, leases
from neuroedge_operator.plan import leadership
from neuroedge_operator.resources import lease as lease_model

log = logging.getLogger(__name__)
FAILURES = (kube.ApiError, aiohttp.ClientError, TimeoutError, OSError)
WATCH_TIMEOUT = 300


class Elector:
    """One replica's side of the election; `run()` until cancelled, read `leading`, await `changed`."""

    def __init__(
        self,
        client: kube.Kube,
        identity: str,
        namespace: str,
        timing: leadership.Timing,
        *,
        clock: Callable[[], float] = time.monotonic,
        write_fence: fence.Fence = fence.FENCE,
    ) -> None:
        self._kube, self._identity, self._namespace = client, identity, namespace
        self._timing, self._clock, self._fence = timing, clock, write_fence
        self._observed: lease_model.Lease | None = None
        self._observed_at = clock()
        self._watch_live = False
        self._wake = asyncio.Event()
        self._expiry: asyncio.TimerHandle | None = None
        self.leading = False
        self.changed = asyncio.Event()
        """Set whenever `leading` flips (the supervisor clears it after reading)."""

    @property
    def identity(self) -> str:
        return self._identity

    async def run(self) -> None:
        """Take part in the election until cancelled (the fence stays closed unless we lead)."""
        self._fence.close()
        metrics.LEADER.set(0)
        watcher = asyncio.create_task(self._follow(), name="lease-watch")
        try:
            await self._refresh()
            while True:
                await self._step()
                await self._pause()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def release(self) -> None:
        """Stop leading and clear the holder, so that a standby takes over without waiting for expiry."""
        held = self._observed
        self._lose("released")
        if held is None or held.holder != self._identity:
            return
        body = lease_builder.release(held, datetime.now(UTC))
        try:
            async with asyncio.timeout(self._timing.retry_period):
                self._observe(await leases.update(self._kube, body))
        except FAILURES as exc:
            log.warning("could not release the Lease (a standby takes over when it expires): %s", exc)

    async def _step(self) -> None:
        if self._observed is None and not self._watch_live:
            await self._refresh()
        action = leadership.decide(self._observed, self._identity, self._observed_at, self._clock())
        if action is leadership.Action.STANDBY:
            self._lose(f"{self._observed.holder if self._observed else '?'} holds the Lease")
            return
        started, now = self._clock(), datetime.now(UTC)
        try:
            async with asyncio.timeout(self._timing.renew_deadline / 2):
                result = await self._write(action, now)
        except FAILURES as exc:
            log.warning("Lease %s failed: %s", action.value, exc)
            return
        if result is None:  # a conflict: someone else wrote first; read again and decide next time
            await self._refresh(force=True)
            if self._observed is not None and self._observed.holder != self._identity:
                self._lose(f"{self._observed.holder} holds the Lease")
            return
        self._observe(result, force=True)
        self._lead(leadership.valid_until(started, self._timing))

    async def _write(self, action: leadership.Action, now: datetime) -> lease_model.Lease | None:
        duration = round(self._timing.lease_duration)
        if action is leadership.Action.CREATE:
            body = lease_builder.acquire(self._namespace, self._identity, now, duration, None)
            return await leases.create(self._kube, body)
        assert self._observed is not None  # decide() only creates when nothing was observed
        if action is leadership.Action.ACQUIRE:
            body = lease_builder.acquire(self._namespace, self._identity, now, duration, self._observed)
        else:
            body = lease_builder.renew(self._observed, now, duration)
        return await leases.update(self._kube, body)

    async def _pause(self) -> None:
        """Until the next attempt: a retry period, or sooner when the watch sees the Lease free up."""
        delay = self._timing.retry_period
        if not self.leading and self._observed is not None and self._observed.holder:
            delay = max(
                0.0, min(delay, leadership.expires_at(self._observed, self._observed_at) - self._clock())
            )
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    async def _follow(self) -> None:
        """Keep `_observed` current through a watch on the Lease (re-opened whenever it ends)."""
        while True:
            try:
                async for found in leases.watch(self._kube, self._namespace, WATCH_TIMEOUT):
                    self._watch_live = True
                    self._observe(found)
                    if found is None or not found.holder:
                        self._wake.set()
            except FAILURES as exc:
                log.warning("Lease watch failed (re-opened in %ss): %s", self._timing.retry_period, exc)
            self._watch_live = False
            await asyncio.sleep(self._timing.retry_period)

    async def _refresh(self, *, force: bool = False) -> None:
        """Read the Lease (when the watch cannot tell us, or after a conflict)."""
        try:
            self._observe(await leases.get(self._kube, self._namespace), force=force)
        except FAILURES as exc:
            log.warning("could not read the Lease: %s", exc)

    def _observe(self, found: lease_model.Lease | None, *, force: bool = False) -> None:
        if not force and _older(found, self._observed):
            return  # a watch event older than what our own write already returned
        if not leadership.same_version(self._observed, found):
            self._observed_at = self._clock()
        self._observed = found

    def _lead(self, valid_until: float) -> None:
        self._fence.open_until(valid_until)
        loop = asyncio.get_running_loop()
        if self._expiry is not None:
            self._expiry.cancel()
        # loop.time() is the monotonic clock: the deadline fires even if no renewal attempt returns.
        self._expiry = loop.call_at(valid_until, self._lose, "the Lease was not renewed before its deadline")
        if not self.leading:
            log.info("%s now leads (Lease %s/%s)", self._identity, self._namespace, lease_model.NAME)
            self._flip(True)

    def _lose(self, why: str) -> None:
        self._fence.close()
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.leading:
            log.warning("%s stops leading: %s", self._identity, why)
            self._flip(False)

    def _flip(self, leading: bool) -> None:
        self.leading = leading
        metrics.LEADER.set(1 if leading else 0)
        metrics.LEADER_TRANSITIONS.labels("leader" if leading else "standby").inc()
        self.changed.set()


def _older(found: lease_model.Lease | None, current: lease_model.Lease | None) -> bool:
    if found is None or current is None:
        return False
    a, b = found.resource_version, current.resource_version
    return a.isdigit() and b.isdigit() and int(a) < int(b)
