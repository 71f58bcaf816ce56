"""Lua scripts called by SHA, so that each call is one round trip even inside a pipeline.

redis-py's `Script` objects check `SCRIPT EXISTS` before every pipeline, an extra round trip on the hot path;
here the SHA is computed locally and a NOSCRIPT reply (after a Redis restart) loads the script and retries.
A NOSCRIPT reply means the script did not run at all, so the retry cannot apply anything twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import redis.asyncio as aioredis
import redis.exceptions

Arg = str | bytes | int | float


class LuaScript:
    """One script's source and SHA."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, client: aioredis.Redis, keys: Sequence[str], args: Sequence[Arg]) -> object:
        """Run the script: one EVALSHA, plus a SCRIPT LOAD the first time a server sees it."""
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            await self.load(client)
            return await client.evalsha(self.sha, len(keys), *keys, *args)

    async def load(self, client: aioredis.Redis) -> None:
        """Make sure the server has the script (before pipelining calls to it)."""
        await client.script_load(self.source)
