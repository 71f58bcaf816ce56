"""`GET /v1/models`: the models a tenant can call, gathered from every model source of the process.

A source is an async callable `source(tenant) -> list[ModelCard]`; the built-in embedding model is one, and
other parts of the runtime (an LLM gateway listing the tenant's LLM Engines, external providers) add theirs to
`keys.MODEL_SOURCES` in their cleanup contexts. Ids are unique: the first source naming an id wins.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Literal, Protocol

from pydantic import BaseModel

from neuroedge_runtime.embeddings import model

BUILTIN_CREATED = 1_719_792_000
"""The `created` time of built-in models: when the WordLlama weights were published (2024-07-01)."""


class ModelCard(BaseModel):
    """One model, as OpenAI's model object."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    """OpenAI's model list."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ModelSource(Protocol):
    """Lists the models one tenant can use."""

    def __call__(self, tenant: str, /) -> Awaitable[list[ModelCard]]: ...


async def builtin_models(_tenant: str) -> list[ModelCard]:
    """The built-in embedding model, available to every tenant."""
    return [ModelCard(id=model.MODEL_ID, created=BUILTIN_CREATED, owned_by="neuroedge")]


async def gather(sources: list[ModelSource], tenant: str) -> list[ModelCard]:
    """Every source's models for `tenant`, in source order, each id once."""
    lists = await asyncio.gather(*(source(tenant) for source in sources))
    seen: dict[str, ModelCard] = {}
    for cards in lists:
        for card in cards:
            seen.setdefault(card.id, card)
    return list(seen.values())
