"""Conversation engine: retrieval over the config's documents plus templates; the turn history travels in the
request (the engine keeps no state), and the reply comes back appended to it.

Retrieval is TF-IDF cosine similarity between the message (plus, at half weight, the previous user turn, so
that follow-ups like "and how much is it?" keep their topic) and each document; the best sentence of the best
document above `min_score` fills the answer template, otherwise the fallback is used.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from neuroedge_runtime.engines import base

_TOKEN = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", re.IGNORECASE)
STOPWORDS = frozenset(
    {
        *(
            "a",
            "an",
            "and",
            "are",
            "as",
            "at",
            "be",
            "by",
            "can",
            "do",
            "does",
            "for",
            "from",
            "how",
            "i",
            "in",
        ),
        *(
            "is",
            "it",
            "me",
            "my",
            "of",
            "on",
            "or",
            "our",
            "the",
            "this",
            "to",
            "we",
            "what",
            "when",
            "where",
        ),
        *("which", "who", "why", "will", "with", "you", "your"),
    }
)


class Document(base.Strict):
    """A passage the engine may answer from."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    text: Annotated[str, Field(min_length=1, max_length=20_000)]


class Config(base.Strict):
    """Documents and templates. Placeholders: {answer} (best sentence), {source} (document id), {message}."""

    documents: list[Document] = Field(min_length=1, max_length=500)
    answer_template: Annotated[str, Field(max_length=2000)] = "{answer}"
    fallback: Annotated[str, Field(max_length=2000)] = "Sorry, I do not know about that."
    greeting: Annotated[str, Field(max_length=2000)] = "Hello! How can I help?"
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.1
    max_history: Annotated[int, Field(ge=2, le=200)] = 20


class Turn(base.Strict):
    """One message of the conversation so far."""

    role: Literal["user", "assistant"]
    content: Annotated[str, Field(max_length=4000)]


class Inputs(base.Strict):
    """The new message and the history before it."""

    message: Annotated[str, Field(min_length=1, max_length=4000)]
    history: list[Turn] = Field(default_factory=list, max_length=200)


def tokens(text: str) -> list[str]:
    """Lower-case word tokens without stop words."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def _vector(counts: Mapping[str, float], idf: Mapping[str, float]) -> dict[str, float]:
    return {t: c * idf.get(t, 0.0) for t, c in counts.items()}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    dot = math.fsum(v * b.get(t, 0.0) for t, v in a.items())
    norm = math.sqrt(math.fsum(v * v for v in a.values())) * math.sqrt(math.fsum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def rank(config: Config, query: Mapping[str, float]) -> list[tuple[float, Document]]:
    """Documents by similarity to the weighted query terms, best first (ties by id)."""
    docs = [(d, Counter(tokens(d.text))) for d in config.documents]
    n = len(docs)
    frequency = Counter(t for _, counts in docs for t in counts)
    idf = {t: math.log((1 + n) / (1 + df)) + 1.0 for t, df in frequency.items()}
    q = _vector(query, idf)
    scored = [(_cosine(q, _vector(counts, idf)), d) for d, counts in docs]
    return sorted(scored, key=lambda pair: (-pair[0], pair[1].id))


def best_sentence(text: str, query: Mapping[str, float]) -> str:
    """The sentence of `text` sharing the most query weight (the first on ties)."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()]
    return max(sentences, key=lambda s: sum(query.get(t, 0.0) for t in set(tokens(s))))


def respond(config: Config, inputs: Inputs) -> base.JsonObject:
    """The reply, its sources, and the history with both new turns appended (pure)."""
    query: dict[str, float] = {}
    for t in tokens(inputs.message):
        query[t] = query.get(t, 0.0) + 1.0
    previous_user = next((t.content for t in reversed(inputs.history) if t.role == "user"), "")
    for t in tokens(previous_user):
        query[t] = query.get(t, 0.0) + 0.5
    ranked = rank(config, query) if query else []
    sources = [{"id": d.id, "score": round(s, 6)} for s, d in ranked[:3] if s > 0]
    if _GREETING.match(inputs.message) and not tokens(_GREETING.sub("", inputs.message)):
        reply, intent = config.greeting, "greeting"
    elif ranked and ranked[0][0] >= config.min_score:
        doc = ranked[0][1]
        answer = best_sentence(doc.text, query)
        reply = config.answer_template.format_map(
            _Template(answer=answer, source=doc.id, message=inputs.message)
        )
        intent = "answer"
    else:
        reply, intent = config.fallback, "fallback"
    history = [t.model_dump() for t in inputs.history]
    history += [{"role": "user", "content": inputs.message}, {"role": "assistant", "content": reply}]
    return {"reply": reply, "intent": intent, "sources": sources, "history": history[-config.max_history :]}


class _Template(dict[str, str]):
    """format_map values where an unknown placeholder stays as written instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class ConversationEngine:
    """Engine kind `conversation`, served by /engine/predict."""

    kind = "conversation"
    operation = base.Operation.PREDICT

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> base.JsonObject:
        return respond(base.parse_config(Config, config), base.parse(Inputs, inputs, "input"))
