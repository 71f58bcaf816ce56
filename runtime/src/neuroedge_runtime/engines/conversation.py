"""Conversation engine: retrieval plus templates; the turn history travels in the request (the engine keeps
no state), and the reply comes back appended to it.

Two sources of passages:
- `documents` in the config: TF-IDF cosine similarity between the message (plus, at half weight, the previous
  user turn, so that follow-ups like "and how much is it?" keep their topic) and each document;
- `vectorIndex`: the top-k chunks of that VectorIndex of the tenant by embedding similarity (the index's model
  embeds the message; a short follow-up is prefixed with the previous user turn).
Either way the best sentence of the best passage above `min_score` fills the answer template, otherwise the
fallback is used; `sources` list the passages' documents and scores.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from neuroedge_runtime.engines import base, context
from neuroedge_runtime.engines.retrieval import Passage, Retriever

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


class Document(base.StrictConfig):
    """A passage the engine may answer from."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    text: Annotated[str, Field(min_length=1, max_length=20_000)]


class Config(base.StrictConfig):
    """Documents (or a VectorIndex) and templates. Placeholders: {answer} (best sentence), {source} (document
    id), {message}."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    documents: list[Document] = Field(default_factory=list, max_length=500)
    vector_index: Annotated[str, Field(pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")] | None = Field(
        default=None, alias="vectorIndex"
    )
    """A text-embedded VectorIndex of the tenant to answer from, instead of `documents`."""
    top_k: Annotated[int, Field(ge=1, le=20)] = 3
    answer_template: Annotated[str, Field(max_length=2000)] = "{answer}"
    fallback: Annotated[str, Field(max_length=2000)] = "Sorry, I do not know about that."
    greeting: Annotated[str, Field(max_length=2000)] = "Hello! How can I help?"
    min_score: Annotated[float, Field(ge=0, le=1)] = 0.1
    max_history: Annotated[int, Field(ge=2, le=200)] = 20

    @model_validator(mode="after")
    def _one_source(self) -> Config:
        if bool(self.documents) == bool(self.vector_index):
            raise ValueError("give exactly one of documents and vectorIndex")
        return self


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


def query_weights(inputs: Inputs) -> dict[str, float]:
    """Term weights of the message, plus the previous user turn at half weight."""
    query: dict[str, float] = {}
    for t in tokens(inputs.message):
        query[t] = query.get(t, 0.0) + 1.0
    for t in tokens(_previous_user(inputs)):
        query[t] = query.get(t, 0.0) + 0.5
    return query


def _previous_user(inputs: Inputs) -> str:
    return next((t.content for t in reversed(inputs.history) if t.role == "user"), "")


def query_text(inputs: Inputs) -> str:
    """What to embed for retrieval: the message, prefixed with the previous user turn when it is a short
    follow-up (fewer than four content words) that needs the topic."""
    previous = _previous_user(inputs)
    if previous and len(tokens(inputs.message)) < 4:
        return f"{previous} {inputs.message}"
    return inputs.message


def document_passages(config: Config, query: Mapping[str, float]) -> list[Passage]:
    """The config's documents as passages, best first (TF-IDF)."""
    ranked = rank(config, query) if query else []
    return [Passage(id=d.id, text=d.text, score=s, source=d.id) for s, d in ranked]


def respond(config: Config, inputs: Inputs, passages: list[Passage] | None = None) -> base.JsonObject:
    """The reply, its sources, and the history with both new turns appended (pure). `passages` (best first)
    are the retrieved chunks when the config names a vectorIndex; else the documents are ranked here."""
    query = query_weights(inputs)
    ranked = passages if passages is not None else document_passages(config, query)
    sources = [{"id": p.source, "score": round(p.score, 6)} for p in ranked[:3] if p.score > 0]
    if _GREETING.match(inputs.message) and not tokens(_GREETING.sub("", inputs.message)):
        reply, intent = config.greeting, "greeting"
    elif ranked and ranked[0].score >= config.min_score:
        best = ranked[0]
        answer = best_sentence(best.text, query)
        reply = config.answer_template.format_map(
            _Template(answer=answer, source=best.source, message=inputs.message)
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
    """Engine kind `conversation`, served by /engine/predict (`retriever`: for configs with a vectorIndex)."""

    kind = "conversation"
    operation = base.Operation.PREDICT

    def __init__(self, retriever: Retriever | None = None) -> None:
        self._retriever = retriever

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> base.JsonObject:
        parsed = base.parse_config(Config, config)
        request = base.parse(Inputs, inputs, "input")
        if parsed.vector_index is None:
            return respond(parsed, request)
        if self._retriever is None:
            raise base.EngineInputError("this process cannot read vector indexes (config.vectorIndex)")
        passages = await self._retriever.retrieve(
            context.tenant(), parsed.vector_index, query_text(request), parsed.top_k
        )
        return respond(parsed, request, passages)
