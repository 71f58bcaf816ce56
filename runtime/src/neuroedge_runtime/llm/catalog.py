"""The caller's LLM Engines, read from the Engine registry under row-level security.

`models(...)` is what `GET /v1/models` lists for the LLM gateway (each conversation or agent Engine with
`spec.llm` is one model, named after the Engine); `lookup(...)` resolves one request's `model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from neuroedge_runtime.llm import config
from neuroedge_runtime.tenancy import db

_LIST = (
    "SELECT name, kind, config, floor(extract(epoch FROM created_at))::bigint AS created "
    "FROM neuroedge.engines WHERE tenant_id = $1 AND kind = ANY($2::text[]) ORDER BY name"
)
_ONE = "SELECT kind, config FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2"


@dataclass(frozen=True)
class LLMEngine:
    name: str
    kind: str
    llm: config.LLMConfig
    config: dict[str, Any]


class UnknownModel(LookupError):  # noqa: N818
    """No LLM Engine of that name in the caller's tenant (also for another tenant's Engine: same answer)."""


async def models(pool: asyncpg.Pool, tenant: str) -> list[dict[str, Any]]:
    """OpenAI `model` objects for the tenant's LLM Engines (`owned_by` is the tenant)."""
    async with db.tenant_transaction(pool, tenant) as conn:
        rows = await conn.fetch(_LIST, tenant, sorted(config.LLM_KINDS))
    return [
        {"id": row["name"], "object": "model", "created": int(row["created"]), "owned_by": tenant}
        for row in rows
        if config.is_llm_engine(row["kind"], json.loads(row["config"]))
    ]


async def lookup(pool: asyncpg.Pool, tenant: str, name: str) -> LLMEngine:
    """The tenant's LLM Engine `name`; UnknownModel when there is none, NotAnLLMEngine when it has no LLM."""
    async with db.tenant_transaction(pool, tenant) as conn:
        row = await conn.fetchrow(_ONE, tenant, name)
    if row is None:
        raise UnknownModel(name)
    raw = json.loads(row["config"])
    return LLMEngine(name, row["kind"], config.from_engine(row["kind"], raw), raw)
