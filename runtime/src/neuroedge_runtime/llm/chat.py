"""A chat completion request, parsed at the edge, and the pure steps that turn it into the upstream's body.

Only the fields the gateway acts on are typed (`model`, `messages`, `stream`, `stream_options`,
`max_tokens`); every other field (`tools`, `tool_choice`, `response_format`, `seed`, server-specific extras)
is passed through untouched, so the gateway never narrows what the upstream server supports.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pydantic

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template adds around each message (role markers, separators): a conservative estimate."""
BYTES_PER_TOKEN = 3
"""Byte-level BPE vocabularies average 3-4 bytes a token on English text; 3 over-estimates, which is the safe
side for a budget check (the reservation is settled with the upstream's real count afterwards)."""


class Message(pydantic.BaseModel):
    """One chat message; content may be text, a list of parts, or null (an assistant turn with tool calls)."""

    model_config = pydantic.ConfigDict(extra="allow")
    role: str = pydantic.Field(min_length=1, max_length=32)
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(pydantic.BaseModel):
    """`POST /v1/chat/completions`: `model` names an Engine of the caller's tenant."""

    model_config = pydantic.ConfigDict(extra="allow")
    model: str = pydantic.Field(min_length=1, max_length=63)
    messages: list[Message] = pydantic.Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = pydantic.Field(default=None, ge=1)
    max_completion_tokens: int | None = pydantic.Field(default=None, ge=1)

    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def wants_usage_chunk(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """A conservative prompt size from the messages' JSON (text, tool calls and all)."""
    total = 0
    for message in messages:
        size = len(json.dumps(message, ensure_ascii=False).encode())
        total += MESSAGE_OVERHEAD_TOKENS + math.ceil(size / BYTES_PER_TOKEN)
    return total


def completion_limit(requested: int | None, engine_max: int) -> int:
    """The `max_tokens` sent upstream: the client's, never above the Engine's `maxTokens`."""
    return min(requested, engine_max) if requested else engine_max


def upstream_body(
    raw: dict[str, Any],
    messages: list[dict[str, Any]],
    model: str,
    max_tokens: int,
    temperature: float | None,
) -> dict[str, Any]:
    """The body sent upstream: the client's fields, with the upstream's model name, the full messages
    (memory and retrieval included), the bounded `max_tokens`, and for streams always a usage chunk (the
    budget is settled from it; it is dropped for clients that did not ask for it)."""
    body = {k: v for k, v in raw.items() if k not in {"max_completion_tokens"}}
    body["model"] = model
    body["messages"] = messages
    body["max_tokens"] = max_tokens
    if temperature is not None and "temperature" not in raw:
        body["temperature"] = temperature
    if raw.get("stream"):
        options = dict(raw.get("stream_options") or {})
        options["include_usage"] = True
        body["stream_options"] = options
    return body
