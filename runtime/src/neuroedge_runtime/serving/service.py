"""Serving of a tenant's ONNX Engines: find the Engine's model in the registry (under RLS), load it once per
(engine, digest) into the process's model cache, and run requests on it off the event loop, through the
Engine's batcher when it has `spec.batching`.

What a load did (digest and signature, or the reason it failed) is reported back through the engine registry
(`neuroedge.engine_model_reports`, one row per Engine and runtime instance), where the operator reads it into
the Engine's status. A model that fails to load leaves the previous good model of the Engine serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import asyncpg
import pydantic

from neuroedge_runtime import problems
from neuroedge_runtime.metrics import Metrics
from neuroedge_runtime.serving import artifacts, batcher, cache, oip, predict, sessions, spec, tensors
from neuroedge_runtime.tenancy import cache as registry_cache
from neuroedge_runtime.tenancy import changes, db

log = logging.getLogger(__name__)

_SELECT = "SELECT kind, model FROM neuroedge.engines WHERE tenant_id = $1 AND name = $2"
_REPORT = """
INSERT INTO neuroedge.engine_model_reports
    (tenant_id, name, instance, uri, sha256, loaded, reason, message, inputs, outputs, reported_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, now())
ON CONFLICT (tenant_id, name, instance) DO UPDATE SET uri = EXCLUDED.uri, sha256 = EXCLUDED.sha256,
    loaded = EXCLUDED.loaded, reason = EXCLUDED.reason, message = EXCLUDED.message,
    inputs = EXCLUDED.inputs, outputs = EXCLUDED.outputs, reported_at = now()
"""


@dataclass(frozen=True)
class ServingSettings:
    """The serving part of the runtime's settings."""

    locations: artifacts.Locations
    memory_cap_bytes: int
    intra_op_threads: int
    retry_seconds: float
    instance: str


class Served:
    """One loaded model of one Engine: its session, and its batcher when the Engine batches."""

    def __init__(
        self,
        session: sessions.Session,
        executor: Executor,
        batching: batcher.BatchingSettings | None,
        metrics: Metrics | None = None,
    ) -> None:
        self.session = session
        self._executor = executor
        # Only a model whose every input takes any number of rows can have requests stacked along rows.
        stackable = all(spec.batched for spec in session.signature.inputs)
        observe = metrics.batch_rows.observe if metrics is not None else (lambda rows: None)
        self._batcher = (
            batcher.Batcher(self._run_all, batching, observe=observe) if batching and stackable else None
        )

    @property
    def size(self) -> int:
        """Bytes charged against the memory cap (the resident memory the model's load added)."""
        return self.session.size

    async def infer(
        self, inputs: Mapping[str, tensors.Array], outputs: list[str]
    ) -> dict[str, tensors.Array]:
        """The named outputs for validated `inputs`."""
        if self._batcher is None:
            return await self._run(inputs, outputs)
        results = await self._batcher.submit(inputs)
        return {name: results[name] for name in outputs}

    async def _run(self, inputs: Mapping[str, tensors.Array], outputs: list[str]) -> dict[str, tensors.Array]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.session.run, inputs, outputs)

    async def _run_all(self, inputs: Mapping[str, tensors.Array]) -> dict[str, tensors.Array]:
        return await self._run(inputs, self.session.signature.output_names())

    async def close(self) -> None:
        """Stop the batcher."""
        if self._batcher is not None:
            await self._batcher.close()


async def score(served: Served, document: Mapping[str, Any]) -> dict[str, Any]:
    """`/engine/predict` (and `/engine/run`) on a loaded model: named tensors or instance rows in, outputs as
    nested lists out; TensorError for input the model cannot take (the engine layer above turns it into its
    own input error: serving knows nothing of engines)."""
    request = predict.request_of(document, served.session.signature)
    decoded = oip.decode(request, b"", served.session.signature)
    results = await served.infer(decoded.inputs, decoded.outputs)
    return {
        "model": {"sha256": served.session.digest},
        "outputs": {name: predict.nested(array) for name, array in results.items()},
    }


@dataclass(frozen=True)
class _Failure:
    reason: str
    message: str
    at: float


class ModelService:
    """The ONNX models of every tenant's Engines that this process serves."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        fetcher: artifacts.Fetcher,
        settings: ServingSettings,
        executor: Executor,
        metrics: Metrics | None = None,
        *,
        feed: changes.Feed | None = None,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._fetcher = fetcher
        self._settings = settings
        self._executor = executor
        self._cache: cache.ModelCache[Served] = cache.ModelCache(settings.memory_cap_bytes)
        # The same registry cache as every other registry read: exact through the change feed.
        self._specs: registry_cache.RegistryCache[tuple[str, str], spec.ModelSpec | None] = (
            registry_cache.RegistryCache(
                feed,
                "engines",
                lambda change: (change.tenant, change.name) if change.name else None,
                metrics.registry_lookups if metrics is not None else None,
            )
        )
        self._loading: dict[tuple[str, str, spec.ModelSpec], asyncio.Task[Served]] = {}
        self._failures: dict[tuple[str, str, spec.ModelSpec], _Failure] = {}
        self._current: dict[tuple[str, str], tuple[str, str, spec.ModelSpec]] = {}

    async def model_of(self, tenant: str, name: str) -> spec.ModelSpec:
        """The model spec of the tenant's Engine `name`; 404 when the tenant has no Engine of that name with a
        model (another tenant's Engine is the same 404), 503 when the registered spec is unusable."""
        found = await self._specs.get((tenant, name), lambda: self._select(tenant, name))
        if found is None:
            raise problems.not_found(f"no model named {name!r}")
        return found

    async def _select(self, tenant: str, name: str) -> spec.ModelSpec | None:
        async with db.tenant_transaction(self._pool, tenant) as conn:
            row = await conn.fetchrow(_SELECT, tenant, name)
        if row is None or row["kind"] != "predictive" or row["model"] is None:
            return None
        try:
            return spec.parse(json.loads(row["model"]))
        except pydantic.ValidationError as exc:
            raise problems.unavailable(f"engine {name!r} has an unusable model spec: {exc}") from None

    async def served(self, tenant: str, name: str) -> Served:
        """The loaded model of the Engine, loading it on first use; 503 with the reason when it cannot be
        loaded and no earlier model of the Engine is loaded."""
        model = await self.model_of(tenant, name)
        key = (tenant, name, model)
        loaded = self._cache.get(key)
        if loaded is not None:
            return loaded
        failure = self._failures.get(key)
        if failure is None or time.monotonic() - failure.at >= self._settings.retry_seconds:
            task = self._loading.get(key)
            if task is None:
                task = asyncio.create_task(self._load(key))
                self._loading[key] = task
                task.add_done_callback(lambda _: self._loading.pop(key, None))
            try:
                return await asyncio.shield(task)
            except artifacts.ArtifactError as exc:
                failure = _Failure(exc.reason, exc.message, time.monotonic())
        previous = self._cache.get(self._current.get((tenant, name)))
        if previous is not None:
            return previous
        raise problems.unavailable(
            f"model of engine {name!r} is not loaded: {failure.reason}: {failure.message}"
        )

    async def _load(self, key: tuple[str, str, spec.ModelSpec]) -> Served:
        tenant, name, model = key
        try:
            artifact = await self._fetcher.fetch(model)
            loop = asyncio.get_running_loop()
            session = await loop.run_in_executor(
                self._executor,
                sessions.Session,
                artifact.data,
                artifact.digest,
                self._settings.intra_op_threads,
            )
        except sessions.InvalidModelError as exc:
            failure = artifacts.ArtifactError("InvalidModel", str(exc))
            await self._failed(key, failure)
            raise failure from None
        except artifacts.ArtifactError as exc:
            await self._failed(key, exc)
            raise
        batching = model.batching.settings() if model.batching else None
        served = Served(session, self._executor, batching, self._metrics)
        self._failures.pop(key, None)
        self._current[(tenant, name)] = key
        for evicted in self._cache.put(key, served):
            await evicted.close()
        if self._metrics is not None:
            self._metrics.model_loads.labels("Loaded").inc()
            self._metrics.models_loaded.set(len(self._cache))
            self._metrics.models_loaded_bytes.set(self._cache.total())
        await self._report(tenant, name, model, session=session)
        return served

    async def _failed(self, key: tuple[str, str, spec.ModelSpec], exc: artifacts.ArtifactError) -> None:
        tenant, name, model = key
        log.warning("engine %s/%s: model %s not loaded: %s: %s", tenant, name, model.uri, exc.reason, exc)
        self._failures[key] = _Failure(exc.reason, exc.message, time.monotonic())
        if self._metrics is not None:
            self._metrics.model_loads.labels(exc.reason).inc()
        await self._report(tenant, name, model, failure=exc)

    async def _report(
        self,
        tenant: str,
        name: str,
        model: spec.ModelSpec,
        session: sessions.Session | None = None,
        failure: artifacts.ArtifactError | None = None,
    ) -> None:
        signature = session.signature if session is not None else None
        args = (
            tenant,
            name,
            self._settings.instance,
            model.uri,
            session.digest if session is not None else (model.sha256 or ""),
            failure is None,
            failure.reason if failure is not None else "Loaded",
            failure.message if failure is not None else f"serving sha256 {session.digest if session else ''}",
            json.dumps([s.describe() for s in signature.inputs]) if signature else None,
            json.dumps([s.describe() for s in signature.outputs]) if signature else None,
        )
        try:
            async with db.tenant_transaction(self._pool, tenant) as conn:
                await conn.execute(_REPORT, *args)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("engine %s/%s: load report not written: %s", tenant, name, exc)

    async def watch(self, tenant: str, name: str, interval: float) -> None:
        """Keep the Engine's current model loaded (and reported) without waiting for requests: at start and
        every `interval` seconds, which also picks up a new model in the registry row."""
        while True:
            try:
                await self.served(tenant, name)
            except problems.Problem as problem:
                log.debug("engine %s/%s: %s", tenant, name, problem.detail)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("engine %s/%s: registry not readable: %s", tenant, name, exc)
            await asyncio.sleep(interval)

    async def predict(self, tenant: str, name: str, document: Mapping[str, Any]) -> dict[str, Any]:
        """`/engine/predict` on a model-serving Engine: named tensors or instance rows in, outputs as nested
        lists out; EngineInputError for input the model cannot take."""
        return await score(await self.served(tenant, name), document)

    async def close(self) -> None:
        """Stop every batcher."""
        for task in list(self._loading.values()):
            task.cancel()
        for entry in self._cache.clear():
            await entry.close()
