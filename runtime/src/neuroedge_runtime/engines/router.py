"""Router engine (semantic routing): a text goes to the route whose example utterances it is most similar to.

Each route names one of the tenant's Engines and lists utterances; the text and the utterances are embedded
by the built-in model (unit vectors), a route's score is the best cosine similarity between the text and its
utterances, and the best-scoring route is chosen when its score reaches its `threshold`. Otherwise the
router's `fallback` Engine is chosen, or none. The utterances' vectors are computed once per routes spec
(cached by its content hash, so an edited Engine is embedded again and an unchanged one never).
"""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from pydantic import Field, model_validator

from neuroedge_runtime.engines import base

Embed = Callable[[list[str]], Awaitable[Any]]
"""Unit vectors (one row per text, a 2-D array) of texts, by the built-in embedding model."""
EngineName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")]
CACHED_SPECS = 256


class Route(base.StrictConfig):
    name: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")]
    engine: EngineName
    utterances: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        min_length=1, max_length=200
    )
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5


class Config(base.StrictConfig):
    """`spec.routes` and `spec.fallback` of a router Engine."""

    routes: list[Route] = Field(min_length=1, max_length=64)
    fallback: EngineName | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError("route names must be unique")
        return self


class Inputs(base.Strict):
    text: Annotated[str, Field(min_length=1, max_length=20_000)]


def choose(config: Config, scores: Mapping[str, float]) -> base.JsonObject:
    """The routing decision from each route's score (pure): the best route at or above its threshold (ties go
    to the route listed first), else the fallback, else none."""
    best = max(config.routes, key=lambda r: scores[r.name])  # max keeps the first of equal scores
    rounded = {name: round(score, 6) for name, score in scores.items()}
    if scores[best.name] >= best.threshold:
        return {"route": best.name, "engine": best.engine, "fallback": False, "scores": rounded}
    return {
        "route": None,
        "engine": config.fallback,
        "fallback": config.fallback is not None,
        "scores": rounded,
    }


def route_scores(text_vector: Any, utterances: Any, owners: list[str]) -> dict[str, float]:
    """Each route's best cosine similarity (unit vectors: dot products) with the text (pure). numpy is
    imported here, on first use: building the API must not load it (idle memory, issue 15)."""
    import numpy as np  # noqa: PLC0415

    similarities = np.asarray(utterances) @ np.asarray(text_vector)
    scores: dict[str, float] = {}
    for owner, similarity in zip(owners, similarities.tolist(), strict=True):
        scores[owner] = max(scores.get(owner, -1.0), float(similarity))
    return scores


class RouterEngine:
    """Engine kind `router`, served by /engine/route."""

    kind = "router"
    operation = base.Operation.ROUTE

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._specs: collections.OrderedDict[str, tuple[Any, list[str]]] = collections.OrderedDict()

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> base.JsonObject:
        settings = base.parse_config(Config, config)
        text = base.parse(Inputs, inputs, "input").text
        utterances, owners = await self._utterances(settings)
        vector = (await self._embed([text]))[0]
        return choose(settings, route_scores(vector, utterances, owners))

    async def _utterances(self, settings: Config) -> tuple[Any, list[str]]:
        """The utterances' vectors and the route of each row, embedded once per routes spec."""
        key = hashlib.sha256(json.dumps([r.model_dump() for r in settings.routes]).encode()).hexdigest()
        if key in self._specs:
            self._specs.move_to_end(key)
            return self._specs[key]
        owners = [r.name for r in settings.routes for _ in r.utterances]
        vectors = await self._embed([u for r in settings.routes for u in r.utterances])
        self._specs[key] = (vectors, owners)
        if len(self._specs) > CACHED_SPECS:
            self._specs.popitem(last=False)
        return vectors, owners
