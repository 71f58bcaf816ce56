"""What a worker process needs to run ingestion jobs and LLM agents: a PostgreSQL pool, the Qdrant client
(when configured), the built-in embedding model behind its batcher and the HTTP session of external providers,
opened once per process and closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import asyncpg

from neuroedge_runtime.embeddings import batcher, model, providers, resolver
from neuroedge_runtime.queue import settings
from neuroedge_runtime.vectors.service import VectorService

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient


@dataclass(frozen=True)
class WorkerData:
    """The worker's database pool and the vector service over it."""

    pool: asyncpg.Pool
    vectors: VectorService
    embedder: providers.Embedder
    """The built-in model (routers embed with it)."""

    async def embed(self, texts: list[str]) -> model.Matrix:
        return (await self.embedder.embed(texts)).vectors


@contextlib.asynccontextmanager
async def vectors(config: settings.WorkerSettings) -> AsyncIterator[WorkerData | None]:
    """The data access of this worker (ingestion jobs, retrieval, agents), or None when it has no database."""
    if not config.database_url:
        yield None
        return
    async with contextlib.AsyncExitStack() as stack:
        pool = await asyncpg.create_pool(config.database_url, min_size=1, max_size=4)
        stack.push_async_callback(pool.close)
        qdrant: AsyncQdrantClient | None = None
        if config.qdrant_url:
            from qdrant_client import AsyncQdrantClient  # noqa: PLC0415 - heavy; only when configured

            qdrant = AsyncQdrantClient(url=config.qdrant_url, api_key=config.qdrant_api_key, timeout=10)
            stack.push_async_callback(qdrant.close)
        builtin = await asyncio.to_thread(model.BuiltinModel)
        runner = batcher.Batcher(builtin.encode)
        runner.start()
        stack.push_async_callback(runner.close)
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        embedder = providers.BuiltinEmbedder(runner)
        embedders: dict[str, providers.Embedder] = {embedder.model_id: embedder}
        yield WorkerData(pool, VectorService(pool, qdrant, resolver.Resolver(embedders, session)), embedder)
