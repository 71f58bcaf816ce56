"""Conversation memory: the recent turns of a conversation (`X-Conversation-ID`), per tenant, in Redis.

A client may then send only its new message; the gateway prepends the remembered turns. The memory is
bounded by turns (a Redis list trimmed on every write), by tokens (the oldest turns are left out of the prompt
when the estimate exceeds the bound) and by time (the key expires `ttl` after the last turn). Keys carry the
tenant, so one tenant's conversation id can never read another's turns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis

from neuroedge_runtime.llm import chat

CONVERSATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = "X-Conversation-ID"


@dataclass(frozen=True)
class MemoryLimits:
    max_messages: int = 40
    max_tokens: int = 4000
    ttl_seconds: int = 24 * 3600


def key(tenant: str, conversation: str) -> str:
    return f"llm:{{{tenant}.llm}}:conv:{conversation}"


def within_tokens(history: list[dict[str, Any]], max_tokens: int) -> list[dict[str, Any]]:
    """The most recent messages whose estimate fits `max_tokens`, never starting on an orphan tool result."""
    kept: list[dict[str, Any]] = []
    total = 0
    for message in reversed(history):
        total += chat.estimate_prompt_tokens([message])
        if total > max_tokens:
            break
        kept.append(message)
    kept.reverse()
    while kept and kept[0].get("role") == "tool":
        kept.pop(0)
    return kept


class Memory:
    """Load and append turns of a tenant's conversation."""

    def __init__(self, client: redis.Redis, limits: MemoryLimits) -> None:
        self._redis = client
        self._limits = limits

    async def load(self, tenant: str, conversation: str) -> list[dict[str, Any]]:
        raw = await self._redis.lrange(key(tenant, conversation), 0, -1)
        history = [json.loads(item) for item in raw]
        return within_tokens(history, self._limits.max_tokens)

    async def append(self, tenant: str, conversation: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        name = key(tenant, conversation)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(name, *(json.dumps(m, ensure_ascii=False) for m in messages))
            pipe.ltrim(name, -self._limits.max_messages, -1)
            pipe.expire(name, self._limits.ttl_seconds)
            await pipe.execute()
