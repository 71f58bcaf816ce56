"""Server-Sent Events of a streamed chat completion: split the upstream's bytes into events as they arrive,
and read what the gateway needs from them (usage, the assistant's text) without re-encoding anything.

Events are forwarded byte for byte, one event as soon as its terminating blank line has arrived: the gateway
adds no buffering beyond the event being read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DONE = b"[DONE]"


@dataclass(frozen=True)
class Usage:
    """Token counts as the upstream reported them (or as the gateway estimated them when it could not)."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_from(obj: Any) -> Usage | None:
    """The `usage` of a completion or chunk object, if it has one."""
    usage = obj.get("usage") if isinstance(obj, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


@dataclass
class EventSplitter:
    """Incremental splitter: feed chunks of bytes, get back every event completed so far."""

    _pending: bytes = b""

    def feed(self, data: bytes) -> list[bytes]:
        buffer = (self._pending + data).replace(b"\r\n", b"\n")
        *events, self._pending = buffer.split(b"\n\n")
        return [event + b"\n\n" for event in events if event.strip()]

    def rest(self) -> bytes:
        """What arrived after the last complete event (an upstream that closed mid-event)."""
        return self._pending


def data_of(event: bytes) -> bytes | None:
    """The `data:` payload of an event (several data lines joined), or None for comments and other fields."""
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


@dataclass
class StreamState:
    """What the gateway learns from the events it forwards: the reported usage, the assistant's text and
    how many content chunks were seen (an estimate of completion tokens if the stream is cut), and whether
    the chunk just observed must be given the assistant's role (`missing_role`)."""

    usage: Usage | None = None
    text: list[str] = field(default_factory=list)
    content_chunks: int = 0
    done: bool = False
    missing_role: bool = False
    """The chunk just observed is the stream's first with choices, and its first delta names no role.
    OpenAI's first delta always carries `role: assistant`; llama-server leaves its role chunk out when the
    first token it generates is an incomplete UTF-8 character (it sends nothing for that token)."""
    _choices_seen: bool = False

    def observe(self, payload: bytes) -> Any:
        """Read one event's payload; returns its JSON object (None for [DONE] or non-JSON)."""
        if payload.strip() == DONE:
            self.done = True
            return None
        try:
            obj = json.loads(payload)
        except ValueError:
            return None
        found = usage_from(obj)
        if found is not None:
            self.usage = found
        self.missing_role = False
        choices = obj.get("choices") if isinstance(obj, dict) else None
        if not isinstance(choices, list):
            return obj
        deltas = [choice.get("delta") if isinstance(choice, dict) else None for choice in choices]
        if deltas and not self._choices_seen:
            self._choices_seen = True
            self.missing_role = isinstance(deltas[0], dict) and "role" not in deltas[0]
        for delta in deltas:
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str) and content:
                self.text.append(content)
                self.content_chunks += 1
        return obj


def is_usage_only(obj: Any) -> bool:
    """The final chunk `stream_options.include_usage` asks for: no choices, just usage."""
    return isinstance(obj, dict) and not obj.get("choices") and usage_from(obj) is not None


def renamed(event: bytes, obj: Any, model: str, add_role: bool = False) -> bytes:
    """The event with its chunk's `model` set to `model` (the Engine's name, as the client asked for it; the
    upstream's own model name, often a file path, is not the client's business) and, with `add_role`, its
    first delta given `role: assistant` (`StreamState.missing_role`); other events unchanged."""
    if not isinstance(obj, dict) or event.count(b"\n") != 2:
        return event  # (an event with more lines than its one `data:` line is relayed as it came)
    rename = "model" in obj and obj["model"] != model
    if not rename and not add_role:
        return event
    out = {**obj, "model": model} if rename else dict(obj)
    if add_role:
        first, *rest = out["choices"]
        out["choices"] = [{**first, "delta": {"role": "assistant", **first["delta"]}}, *rest]
    return b"data: " + json.dumps(out, ensure_ascii=False).encode() + b"\n\n"
