"""Run a tenant's Engine (looked up in `neuroedge.engines` under RLS) on one request's input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import asyncpg

from neuroedge_runtime import problems
from neuroedge_runtime.engines import base
from neuroedge_runtime.tenancy import db


class EngineService:
    """Dispatches /engine/predict and /engine/analyze to the engine kind of the named Engine."""

    def __init__(self, pool: asyncpg.Pool, kinds: Mapping[str, base.Engine]) -> None:
        self._pool = pool
        self._kinds = kinds

    async def run(
        self, tenant: str, name: str, operation: base.Operation, inputs: Mapping[str, Any]
    ) -> base.JsonObject:
        """The engine's result; 404 for an unknown engine, 409 when it does not serve `operation`."""
        async with db.tenant_transaction(self._pool, tenant) as conn:
            row = await conn.fetchrow(
                "SELECT kind, config FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2", tenant, name
            )
        if row is None:
            raise problems.not_found(f"no engine named {name!r}")
        engine = self._kinds.get(row["kind"])
        if engine is None:
            raise problems.unavailable(f"engine kind {row['kind']!r} is not available in this runtime")
        if engine.operation != operation:
            raise problems.conflict(
                f"engine {name!r} is of kind {engine.kind}, served by /engine/{engine.operation.value}"
            )
        config = json.loads(row["config"])
        try:
            return await engine(config, inputs)
        except base.EngineInputError as exc:
            raise problems.invalid(str(exc), exc.errors) from None
