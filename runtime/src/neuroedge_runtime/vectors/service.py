"""The vector endpoints' logic: find the tenant's index, check dimensions, dispatch to its backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from neuroedge_runtime import problems
from neuroedge_runtime.tenancy import db
from neuroedge_runtime.vectors import models, pgvector, registry

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient


def _not_provisioned(info: registry.IndexInfo) -> problems.Problem:
    return problems.unavailable(f"the storage of index {info.name} is not provisioned yet")


def _check_dimension(info: registry.IndexInfo, vectors: list[list[float]]) -> None:
    for position, vector in enumerate(vectors):
        if len(vector) != info.dimension:
            raise problems.invalid(
                f"index {info.name} has dimension {info.dimension}; vector {position} has {len(vector)}",
                [{"loc": ["vector", position], "msg": f"expected {info.dimension} components"}],
            )


class VectorService:
    """Insert and search for one tenant at a time."""

    def __init__(self, pool: asyncpg.Pool, qdrant_client: AsyncQdrantClient | None) -> None:
        self._pool = pool
        self._qdrant = qdrant_client

    async def insert(self, tenant: str, request: models.InsertRequest) -> models.InsertResponse:
        """Upsert a batch of points into the tenant's index."""
        async with db.tenant_transaction(self._pool, tenant) as conn:
            info = await self._index(conn, tenant, request.index)
            _check_dimension(info, [p.vector for p in request.points])
            try:
                if info.backend == "pgvector":
                    count = await pgvector.upsert(conn, info, request.points)
                else:
                    from neuroedge_runtime.vectors import qdrant  # noqa: PLC0415 - heavy; only when used

                    count = await qdrant.upsert(self._client(), info, request.points)
            except (asyncpg.UndefinedTableError, registry.StorageMissingError) as exc:
                raise _not_provisioned(info) from exc
        return models.InsertResponse(index=info.name, upserted=count)

    async def search(self, tenant: str, request: models.SearchRequest) -> models.SearchResponse:
        """Search the tenant's index."""
        async with db.tenant_transaction(self._pool, tenant) as conn:
            info = await self._index(conn, tenant, request.index)
            _check_dimension(info, [request.vector])
            if info.backend == "pgvector":
                try:
                    hits = await pgvector.search(conn, info, request)
                except asyncpg.UndefinedTableError as exc:
                    raise _not_provisioned(info) from exc
        if info.backend != "pgvector":  # no need to hold a connection while Qdrant answers
            from neuroedge_runtime.vectors import qdrant  # noqa: PLC0415 - heavy; only when used

            try:
                hits = await qdrant.search(self._client(), info, request)
            except registry.StorageMissingError as exc:
                raise _not_provisioned(info) from exc
        return models.SearchResponse(index=info.name, hits=hits)

    @staticmethod
    async def _index(conn: asyncpg.Connection, tenant: str, name: str) -> registry.IndexInfo:
        info = await registry.fetch(conn, tenant, name)
        if info is None:
            raise problems.not_found(f"no vector index named {name!r}")
        return info

    def _client(self) -> AsyncQdrantClient:
        if self._qdrant is None:
            raise problems.unavailable("this runtime has no Qdrant configured")
        return self._qdrant
