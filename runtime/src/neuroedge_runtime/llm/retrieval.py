"""Retrieval for LLM Engines with `config.vectorIndex`: the top-k passages of the tenant's own index for the
last user message are put in front of the conversation (each with its id), and the ids are returned to the
client as the answer's sources.

Text search itself (embedding the query with the index's model) belongs to the embeddings work; the gateway
depends only on the `TextSearch` callable below, so it can be wired to whichever service provides it. Without
one, an Engine that asks for retrieval is refused with a clear error instead of answering without its sources.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    score: float


TextSearch = Callable[[str, str, str, int], Awaitable[list[Passage]]]
"""`search(tenant, index, text, k)`: the k passages of the tenant's index nearest to `text`; raises
RetrievalError when the Engine's index cannot be searched (none of that name in the tenant, no model)."""


class RetrievalError(ValueError):
    """The Engine's `vectorIndex` cannot be searched; the message names the index and why."""


INDEX_KEY = "vectorIndex"
TOP_K_KEY = "topK"
DEFAULT_TOP_K = 4


@dataclass(frozen=True)
class Settings:
    index: str
    top_k: int


def settings_of(config: Mapping[str, Any]) -> Settings | None:
    """The Engine's retrieval settings (`vectorIndex`, `topK`), or None when it does not retrieve."""
    index = config.get(INDEX_KEY)
    if not isinstance(index, str) or not index:
        return None
    raw_k = config.get(TOP_K_KEY, DEFAULT_TOP_K)
    top_k = int(raw_k) if str(raw_k).isdigit() else DEFAULT_TOP_K
    return Settings(index, max(1, min(top_k, 20)))


def last_user_text(messages: list[dict[str, Any]]) -> str | None:
    """The text of the last user message (text parts joined), the query of the search."""
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict)).strip() or None
    return None


def augment(messages: list[dict[str, Any]], passages: list[Passage]) -> list[dict[str, Any]]:
    """The messages with one system message of the passages (id and text) before the first non-system one."""
    if not passages:
        return messages
    listing = "\n".join(f"[{p.id}] {p.text}" for p in passages)
    context = {
        "role": "system",
        "content": "Answer from these passages of the knowledge base when they are relevant, citing their "
        f"ids in brackets:\n{listing}",
    }
    first = next((i for i, m in enumerate(messages) if m.get("role") not in {"system", "developer"}), 0)
    return [*messages[:first], context, *messages[first:]]


def sources(passages: list[Passage]) -> list[dict[str, Any]]:
    """The response's `sources` extension field."""
    return [{"id": p.id, "score": round(p.score, 6)} for p in passages]
