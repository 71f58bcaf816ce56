"""Redis: observe and set tenants' ACL users (the admin URL comes from the operator settings)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from neuroedge_operator import metrics
from neuroedge_operator.builders import redis_acl
from neuroedge_operator.clients import fence

UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class Cache:
    """ACL management over one admin connection pool."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def _command(self, *args: str) -> Any:
        # The bare command skips redis-py's reply parsers (which reorder ACL rules) and is untyped there.
        return await self._client.execute_command(*args)  # type: ignore[no-untyped-call]

    async def observe(self, tenant: str) -> redis_acl.UserState | None:
        """The tenant's ACL user, or None when it does not exist."""
        user = redis_acl.user_name(tenant)
        raw: Any = await self._command("ACL", "GETUSER", user)
        if not raw:
            return None
        return redis_acl.UserState(
            enabled="on" in raw.get("flags", []),
            passwords=tuple(raw.get("passwords", [])),
            keys=_text(raw.get("keys")),
            channels=_text(raw.get("channels")),
            permissions_ok=await self._permissions_ok(tenant),
        )

    async def _permissions_ok(self, tenant: str) -> bool:
        user = redis_acl.user_name(tenant)
        checks = redis_acl.probes(tenant)
        async with self._client.pipeline(transaction=False) as pipe:
            for command, _allowed in checks:
                pipe.execute_command("ACL", "DRYRUN", user, *command)
            answers = await pipe.execute(raise_on_error=False)
        return all((answer == "OK") == allowed for answer, (_c, allowed) in zip(answers, checks, strict=True))

    async def ensure(self, tenant: str, password: str, enabled: bool) -> bool:
        """Make the user match; returns whether anything was written. Disabling also ends its connections."""
        observed = await self.observe(tenant)
        if redis_acl.up_to_date(observed, tenant, password, enabled):
            return False
        user = redis_acl.user_name(tenant)
        fence.FENCE.check("ACL SETUSER")
        await self._command("ACL", "SETUSER", user, *redis_acl.setuser_rules(tenant, password, enabled))
        metrics.REDIS_WRITES.labels("setuser").inc()
        if not enabled:
            await self._command("CLIENT", "KILL", "USER", user)
        return True

    async def delete(self, tenant: str) -> bool:
        """Delete the user (Redis closes its connections); returns whether it existed."""
        fence.FENCE.check("ACL DELUSER")
        deleted = int(await self._command("ACL", "DELUSER", redis_acl.user_name(tenant)))
        if deleted:
            metrics.REDIS_WRITES.labels("deluser").inc()
        return deleted > 0


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)
