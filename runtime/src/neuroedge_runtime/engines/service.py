"""Run a tenant's Engine (looked up in `neuroedge.engines` under RLS) on one request's input."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
from prometheus_client import Counter

from neuroedge_runtime import problems
from neuroedge_runtime.engines import base, context, registry
from neuroedge_runtime.serving import tensors
from neuroedge_runtime.tenancy import cache, changes, db


@dataclass(frozen=True)
class RegisteredEngine:
    """A tenant's Engine as its registry row describes it."""

    name: str
    kind: str
    config: base.EngineConfig
    """Parsed into the kind's config model once, on the first request that runs it (`base.parse_config`)."""
    model: dict[str, Any] | None = None
    """`spec.model` of a predictive Engine that serves a trained model (`ModelPredictor`), not its config."""


class ModelPredictor(Protocol):
    """What runs `/engine/predict` for an Engine that serves a trained model (the serving service)."""

    async def predict(self, tenant: str, name: str, document: Mapping[str, Any]) -> base.JsonObject:
        """The model's outputs for the request's input; EngineInputError for input it cannot take."""
        ...


class EngineService:
    """Dispatches /engine/predict and /engine/analyze to the engine kind of the named Engine, and resolves
    Engines for /engine/run."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        engines: registry.Registry,
        feed: changes.Feed | None,
        lookups: Counter | None = None,
        models: ModelPredictor | None = None,
    ) -> None:
        self._pool = pool
        self._engines = engines
        self._models = models
        self._rows: cache.RegistryCache[tuple[str, str], RegisteredEngine | None] = cache.RegistryCache(
            feed, "engines", lambda change: (change.tenant, change.name) if change.name else None, lookups
        )

    async def lookup(self, tenant: str, name: str) -> RegisteredEngine:
        """The tenant's Engine `name`; 404 when the tenant has none of that name, 503 when this runtime cannot
        run its kind. Registry rows are cached per (tenant, name) while the change feed is live."""
        found = await self._rows.get((tenant, name), lambda: self._read(tenant, name))
        if found is None:
            raise problems.not_found(f"no engine named {name!r}")
        try:
            self._engines.kind(found.kind)
        except registry.UnknownEngine as exc:
            raise problems.unavailable(str(exc)) from None
        return found

    async def _read(self, tenant: str, name: str) -> RegisteredEngine | None:
        async with db.tenant_transaction(self._pool, tenant) as conn:
            row = await conn.fetchrow(
                "SELECT kind, config, model FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2",
                tenant,
                name,
            )
        if row is None:
            return None
        model = json.loads(row["model"]) if row["model"] is not None else None
        return RegisteredEngine(name, row["kind"], base.EngineConfig(json.loads(row["config"])), model)

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
        return await self._call(tenant, found, engine, inputs)

    async def call(self, tenant: str, name: str, inputs: Mapping[str, Any]) -> base.JsonObject:
        """The engine's result whatever operation it serves (an agent's tool call); 404, 422 as `run`."""
        found = await self.lookup(tenant, name)
        return await self._call(tenant, found, self._engines.kind(found.kind), inputs)

    async def _call(
        self, tenant: str, found: RegisteredEngine, engine: base.Engine, inputs: Mapping[str, Any]
    ) -> base.JsonObject:
        name = found.name
        token = context.TENANT.set(tenant)
        named = context.ENGINE.set(name)
        try:
            if found.model is not None and self._models is not None:
                return await self._models.predict(tenant, name, inputs)
            return await engine(found.config, inputs)
        except base.EngineInputError as exc:
            raise problems.invalid(str(exc), exc.errors) from None
        except tensors.TensorError as exc:
            raise problems.invalid(str(exc), [{"loc": ["input"], "msg": str(exc)}]) from None
        finally:
            context.ENGINE.reset(named)
            context.TENANT.reset(token)
