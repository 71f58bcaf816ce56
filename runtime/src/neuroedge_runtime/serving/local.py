"""Models loaded by their spec alone, for a worker process: the job carries the Engine's model spec (as the
API read it from the registry), so a worker needs no database. Loaded once per spec, least recently used out
first under the memory cap; a spec whose bytes fail their digest is never loaded."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from neuroedge_runtime.serving import artifacts, cache, sessions, spec
from neuroedge_runtime.serving.service import Served


class LocalModels:
    """Spec -> loaded model, for one process."""

    def __init__(
        self, fetcher: artifacts.Fetcher, executor: Executor, memory_cap_bytes: int, intra_op_threads: int = 1
    ) -> None:
        self._fetcher = fetcher
        self._executor = executor
        self._threads = intra_op_threads
        self._cache: cache.ModelCache[Served] = cache.ModelCache(memory_cap_bytes)
        self._loading: dict[spec.ModelSpec, asyncio.Task[Served]] = {}

    async def served(self, model: spec.ModelSpec) -> Served:
        """The loaded model of `model`; ArtifactError (reason InvalidModel for bytes ONNX Runtime refuses)."""
        found = self._cache.get(model)
        if found is not None:
            return found
        task = self._loading.get(model)
        if task is None:
            task = asyncio.create_task(self._load(model))
            self._loading[model] = task
            task.add_done_callback(lambda _: self._loading.pop(model, None))
        return await asyncio.shield(task)

    async def _load(self, model: spec.ModelSpec) -> Served:
        artifact = await self._fetcher.fetch(model)
        loop = asyncio.get_running_loop()
        try:
            session = await loop.run_in_executor(
                self._executor, sessions.Session, artifact.data, artifact.digest, self._threads
            )
        except sessions.InvalidModelError as exc:
            raise artifacts.ArtifactError("InvalidModel", str(exc)) from None
        served = Served(session, self._executor, None)  # a job is one large batch already
        for evicted in self._cache.put(model, served):
            await evicted.close()
        return served

    async def close(self) -> None:
        """Release every model."""
        for entry in self._cache.clear():
            await entry.close()
