"""Run a tenant's Engine (looked up in `neuroedge.engines` under RLS) on one request's input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from neuroedge_runtime import problems
from neuroedge_runtime.engines import base, context, registry
from neuroedge_runtime.tenancy import db


@dataclass(frozen=True)
class RegisteredEngine:
    """A tenant's Engine as its registry row describes it."""

    name: str
    kind: str
    config: dict[str, Any]


class EngineService:
    """Dispatches /engine/predict and /engine/analyze to the engine kind of the named Engine, and resolves
    Engines for /engine/run."""

    def __init__(self, pool: asyncpg.Pool, engines: registry.Registry) -> None:
        self._pool = pool
        self._engines = engines

    async def lookup(self, tenant: str, name: str) -> RegisteredEngine:
        """The tenant's Engine `name`; 404 when the tenant has none of that name, 503 when this runtime cannot
        run its kind."""
        async with db.tenant_transaction(self._pool, tenant) as conn:
            row = await conn.fetchrow(
                "SELECT kind, config FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2", tenant, name
            )
        if row is None:
            raise problems.not_found(f"no engine named {name!r}")
        try:
            self._engines.kind(row["kind"])
        except registry.UnknownEngine as exc:
            raise problems.unavailable(str(exc)) from None
        return RegisteredEngine(name, row["kind"], json.loads(row["config"]))

    async def run(
        self, tenant: str, name: str, operation: base.Operation, inputs: Mapping[str, Any]
    ) -> base.JsonObject:
        """The engine's result; 404 for an unknown engine, 409 when it does not serve `operation`."""
        found = await self.lookup(tenant, name)
        engine = self._engines.kind(found.kind)
        if engine.operation != operation:
            raise problems.conflict(
                f"engine {name!r} is of kind {engine.kind}, served by /engine/{engine.operation.value}"
            )
        token = context.TENANT.set(tenant)
        try:
            return await engine(found.config, inputs)
        except base.EngineInputError as exc:
            raise problems.invalid(str(exc), exc.errors) from None
        finally:
            context.TENANT.reset(token)
