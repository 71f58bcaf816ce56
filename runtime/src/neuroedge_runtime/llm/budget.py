"""Per-tenant token budgets (`Tenant.spec.llmBudget`): a reservation before each upstream call, settled with
the real usage after it.

Two fixed windows, the UTC minute and the UTC day, each a Redis counter of tokens used or reserved.
Reserving checks both and increments both in one atomic script (so concurrent requests cannot overdraw the
budget between check and increment); settling adds `actual - reserved` to the same two keys, returning what
was not used. A denial carries the seconds until the window that denied it resets (Retry-After). Keys share
the hash tag `{<tenant>.llm}` so the script stays valid on Redis Cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as redis

_RESERVE = """
local amount = tonumber(ARGV[1])
for i = 1, #KEYS do
  local limit = tonumber(ARGV[1 + i])
  if limit > 0 then
    local used = tonumber(redis.call('GET', KEYS[i]) or '0')
    if used + amount > limit then return {0, i, used} end
  end
end
for i = 1, #KEYS do
  redis.call('INCRBY', KEYS[i], amount)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[1 + #KEYS + i]))
end
return {1, 0, 0}
"""

_SETTLE = """
local delta = tonumber(ARGV[1])
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], delta) end
end
return 1
"""

WINDOWS = ("minute", "day")


@dataclass(frozen=True)
class Limits:
    """Tokens a tenant may use per UTC minute and per UTC day; None is unlimited."""

    per_minute: int | None
    per_day: int | None

    def unlimited(self) -> bool:
        return self.per_minute is None and self.per_day is None


@dataclass(frozen=True)
class Reservation:
    """Tokens held for one request in the windows current when it started."""

    keys: tuple[str, ...]
    tokens: int


@dataclass(frozen=True)
class Denied:
    """The request does not fit: which window, how much it has left, and when it resets."""

    window: str
    limit: int
    used: int
    retry_after_seconds: int


def window_keys(tenant: str, now: datetime) -> tuple[str, str]:
    """The counters of the minute and the day containing `now` (UTC)."""
    minute = now.strftime("%Y%m%d%H%M")
    day = now.strftime("%Y%m%d")
    return (f"llm:{{{tenant}.llm}}:tokens:m:{minute}", f"llm:{{{tenant}.llm}}:tokens:d:{day}")


def seconds_to_reset(now: datetime) -> tuple[int, int]:
    """Whole seconds (at least 1) until the current UTC minute and day end."""
    into_minute = now.second + now.microsecond / 1e6
    into_day = now.hour * 3600 + now.minute * 60 + into_minute
    return max(1, math.ceil(60 - into_minute)), max(1, math.ceil(86400 - into_day))


class Budgets:
    """Reserve and settle tokens against tenants' budgets in Redis."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)

    async def reserve(
        self, tenant: str, tokens: int, limits: Limits, now: datetime | None = None
    ) -> Reservation | Denied:
        """Hold `tokens` in both windows, or say which window has no room for them."""
        now = now or datetime.now(UTC)
        keys = window_keys(tenant, now)
        if limits.unlimited():
            return Reservation((), tokens)
        resets = seconds_to_reset(now)
        bounds = (limits.per_minute or 0, limits.per_day or 0)
        args = [tokens, *bounds, resets[0] + 60, resets[1] + 3600]
        allowed, which, used = await self._reserve(keys=list(keys), args=args)
        if int(allowed) == 1:
            return Reservation(keys, tokens)
        index = int(which) - 1
        return Denied(WINDOWS[index], bounds[index], int(used), resets[index])

    async def settle(self, reservation: Reservation, actual_tokens: int) -> None:
        """Replace the reservation with what the request really used."""
        if not reservation.keys or actual_tokens == reservation.tokens:
            return
        await self._settle(keys=list(reservation.keys), args=[actual_tokens - reservation.tokens])
