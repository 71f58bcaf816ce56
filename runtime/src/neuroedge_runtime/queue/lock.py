"""A Redis lock for work only one worker of a pool may do at a time (for example the reclaimer).

`SET key token NX PX ttl` takes it; release and extension are compare-and-act Lua scripts, so a holder whose
lock expired and was taken by someone else can never delete or extend the new holder's lock. The TTL bounds
how long a crashed holder blocks the others. This is a lease for efficiency (one reclaimer instead of many
racing ones), not a fencing mechanism: the queue stays correct if two holders ever overlap.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class Lock:
    """One named lock (its key comes from `keys.QueueKeys.lock`)."""

    def __init__(self, client: aioredis.Redis, key: str, ttl_ms: int) -> None:
        if ttl_ms < 1:
            raise ValueError(f"lock TTL must be at least 1 ms, got {ttl_ms}")
        self._client = client
        self.key = key
        self.ttl_ms = ttl_ms
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    async def acquire(self) -> str | None:
        """A token proving ownership, or None when someone else holds the lock."""
        token = secrets.token_hex(16)
        taken = await self._client.set(self.key, token, nx=True, px=self.ttl_ms)
        return token if taken else None

    async def release(self, token: str) -> bool:
        """Delete the lock if `token` still owns it; False when it had expired or changed hands."""
        return bool(await self._release(keys=[self.key], args=[token]))

    async def extend(self, token: str) -> bool:
        """Reset the TTL if `token` still owns the lock."""
        return bool(await self._extend(keys=[self.key], args=[token, self.ttl_ms]))

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[bool]:
        """`async with lock.held() as mine:` runs the body either way; `mine` says whether we hold it."""
        token = await self.acquire()
        try:
            yield token is not None
        finally:
            if token is not None:
                await self.release(token)
