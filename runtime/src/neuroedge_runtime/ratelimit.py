"""Everything Redis decides about a request, in one atomic script call: is the token revoked (its user was
disabled after it was issued), and do the per-tenant and per-user rate limits allow it (GCRA).

Revocation lives here, not in the verified-token cache, because it must hold on every replica at once: the
disabling request writes the user's revocation time, and the very next request anywhere is refused.

GCRA keeps one timestamp per key (the theoretical arrival time), so a limit costs one small string in Redis
and no background refill. The script checks every scope first and updates them only when all allow the
request, so a request rejected by the user limit does not consume the tenant's allowance. It reads the clock
from Redis (`TIME`), so replicas with skewed clocks agree. Keys share the hash tag `{<tenant>.rl}`, keeping
the multi-key script valid on Redis Cluster.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
import uuid
from dataclasses import dataclass

import redis.exceptions

from neuroedge_runtime import deadlines, respclient
from neuroedge_runtime.tenancy.registry import TenantInfo

_SCRIPT = """
local scopes = #KEYS - 1
local revoked = redis.call('GET', KEYS[#KEYS])
if revoked and tonumber(revoked) >= tonumber(ARGV[2 * scopes + 1]) then
  return {-1, 0, 0, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local news = {}
local retry, denied_scope = 0, 0
local remaining, limit, reset = nil, 0, 0
for i = 1, scopes do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tau = interval * burst
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - tau
  if now < allow_at then
    if allow_at - now > retry then retry = allow_at - now; denied_scope = i end
  else
    local left = math.floor((tau - (new_tat - now)) / interval)
    if remaining == nil or left < remaining then remaining = left; limit = burst end
    if new_tat - now > reset then reset = new_tat - now end
  end
  news[i] = new_tat
end
if retry > 0 then
  return {0, math.ceil(retry), denied_scope, tonumber(ARGV[2 * denied_scope])}
end
for i = 1, scopes do
  redis.call('SET', KEYS[i], string.format('%d', news[i]), 'PX', math.ceil((news[i] - now) / 1000) + 1000)
end
return {1, remaining, math.ceil(reset), limit}
"""

_SHA = hashlib.sha1(_SCRIPT.encode(), usedforsecurity=False).hexdigest()  # Redis names scripts by SHA1
SCOPES = ("tenant", "user")


@dataclass(frozen=True)
class Decision:
    """The outcome of one request's check."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    retry_after_seconds: int
    scope: str

    def headers(self) -> dict[str, str]:
        """RateLimit header fields (IETF draft) and, when rejected, Retry-After."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.reset_seconds or 1};scope={self.scope}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


class RevokedError(Exception):
    """The access token was issued before its user was disabled."""


@functools.lru_cache(maxsize=4096)
def keys(tenant: str, user_id: uuid.UUID) -> tuple[str, str, str]:
    """The Redis keys of the tenant and user scopes, then the user's revocation time (one hash tag:
    Cluster-safe). Remembered for the users seen last: formatting them (a UUID's text is made in Python)
    cost 1.5 us of every request."""
    prefix = f"ne:{tenant}:{{{tenant}.rl}}:"
    return (prefix + "tenant", prefix + f"user:{user_id}", revocation_key(tenant, user_id))


def revocation_key(tenant: str, user_id: uuid.UUID) -> str:
    """Epoch second at which the user's access tokens stopped being valid (tokens with `iat` <= it)."""
    return f"ne:{tenant}:{{{tenant}.rl}}:revoked:{user_id}"


def arguments(info: TenantInfo, issued_at: int) -> tuple[int, int, int, int, int]:
    """Emission interval (microseconds) and burst of each scope, in key order, then the token's `iat`."""
    return (
        max(1, round(1_000_000 / info.rate_limit_rps)),
        info.rate_limit_burst,
        max(1, round(1_000_000 / info.user_rate_limit_rps)),
        info.user_rate_limit_burst,
        issued_at,
    )


class RateLimiter:
    """Checks requests against revocations and the limits of the tenant registry, through a pipelining
    client of its own (`respclient`: the calls of concurrent requests travel together)."""

    def __init__(
        self,
        client: respclient.Client,
        timeout_seconds: float | None = None,
        bounds: deadlines.Deadlines | None = None,
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds
        """Bound of one call (None: unbounded)."""
        self._bounds = bounds if bounds is not None else deadlines.Deadlines()
        """The timers that bound its calls (the API's, shared with the request path)."""

    async def check(self, info: TenantInfo, user_id: uuid.UUID, issued_at: int) -> Decision:
        """Count one request of `user_id` in `info.tenant` and say whether it may proceed; RevokedError when
        the token was issued at or before the user's revocation."""
        try:
            allowed, value, third, limit = await self._bounds.run(
                self._client.evalsha(_SHA, _SCRIPT, keys(info.tenant, user_id), arguments(info, issued_at)),
                self._timeout,
            )
        except TimeoutError:
            # The replies still owed on the connection may never come: drop it (the next call reconnects).
            self._client.reset()
            # Answered as an unreachable dependency (503), not as the request's own timeout (504).
            raise redis.exceptions.ConnectionError(
                f"Redis did not answer the rate limiter within {self._timeout}s"
            ) from None
        if allowed < 0:
            raise RevokedError(f"access token of user {user_id} was revoked")
        if allowed:
            return Decision(True, limit, value, math.ceil(third / 1_000_000), 0, "tenant")
        retry = max(1, math.ceil(value / 1_000_000))
        return Decision(False, limit, 0, retry, retry, SCOPES[third - 1])

    async def revoke(self, tenant: str, user_id: uuid.UUID, keep_seconds: int) -> None:
        """Refuse every access token of the user issued up to now, on every replica, for `keep_seconds` (the
        longest an access token can live: afterwards every such token has expired anyway)."""
        await self._bounds.run(
            self._client.execute(
                "SET", revocation_key(tenant, user_id), int(time.time()), "EX", max(1, keep_seconds)
            ),
            self._timeout,
        )
