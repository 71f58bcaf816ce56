"""The vector endpoints' logic: find the tenant's index, embed texts with its model, check dimensions,
dispatch to its backend.

The registry row comes from the process's registry cache (kept exact by the change feed; read in a short
transaction of its own while the feed is down), then texts are embedded with no database
connection held (an external provider may take a while), then the backend operation runs (pgvector on a
tenant transaction under RLS; Qdrant with the tenant filter on every call).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from prometheus_client import Counter

from neuroedge_runtime import problems
from neuroedge_runtime.embeddings import providers
from neuroedge_runtime.embeddings.resolver import Resolver, UnknownModelError
from neuroedge_runtime.tenancy import cache, changes, db
from neuroedge_runtime.vectors import models, pgvector, registry

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient

T = TypeVar("T")
Loc = list[str | int]


def _not_provisioned(info: registry.IndexInfo) -> problems.Problem:
    return problems.unavailable(f"the storage of index {info.name} is not provisioned yet")


def _check_dimension(info: registry.IndexInfo, vectors: list[tuple[Loc, list[float]]]) -> None:
    for loc, vector in vectors:
        if len(vector) != info.dimension:
            where = ".".join(map(str, loc))
            raise problems.invalid(
                f"index {info.name} has dimension {info.dimension}; {where} has {len(vector)}",
                [{"loc": loc, "msg": f"expected {info.dimension} components"}],
            )


def _qdrant() -> ModuleType:
    from neuroedge_runtime.vectors import qdrant  # noqa: PLC0415 - heavy (numpy, grpc); only when used

    return qdrant


def _payload(point: models.Point) -> dict[str, Any]:
    if point.text is None or models.TEXT_FIELD in point.payload:
        return dict(point.payload)
    return {**point.payload, models.TEXT_FIELD: point.text}


class VectorService:
    """Insert, search, delete, fetch and list for one tenant at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        qdrant_client: AsyncQdrantClient | None,
        embedders: Resolver,
        feed: changes.Feed | None = None,
        lookups: Counter | None = None,
    ) -> None:
        self._pool = pool
        self._qdrant = qdrant_client
        self._embedders = embedders
        self._rows: cache.RegistryCache[tuple[str, str], registry.IndexInfo | None] = cache.RegistryCache(
            feed,
            "vector_indexes",
            lambda change: (change.tenant, change.name) if change.name else None,
            lookups,
        )

    async def index(self, tenant: str, name: str) -> registry.IndexInfo:
        """The tenant's index `name`; 404 when there is none. Cached per (tenant, name) while the registry
        change feed is live, so a search runs one transaction (its query), not two."""
        info = await self._rows.get((tenant, name), lambda: self._read(tenant, name))
        if info is None:
            raise problems.not_found(f"no vector index named {name!r}")
        return info

    async def _read(self, tenant: str, name: str) -> registry.IndexInfo | None:
        async with db.tenant_transaction(self._pool, tenant) as conn:
            return await registry.fetch(conn, tenant, name)

    async def embed(self, info: registry.IndexInfo, texts: list[str], locs: list[Loc]) -> list[list[float]]:
        """Vectors of `texts` by the index's model; 422 naming `locs` when the index has none, 502 when the
        model fails or answers vectors of another dimension."""
        if info.embedding is None:
            raise problems.invalid(
                f"index {info.name} has no embedding model (spec.embedding), so it takes vectors, not text",
                [{"loc": loc, "msg": "this index has no embedding model"} for loc in locs],
            )
        try:
            embedder = self._embedders.for_index(info.embedding, info.dimension)
            encoded = await embedder.embed(texts)
        except UnknownModelError as exc:
            raise problems.unavailable(str(exc)) from None
        except providers.EmbeddingError as exc:
            raise problems.Problem(502, "embedding-failed", "Embedding failed", str(exc)) from None
        if encoded.vectors.shape[1] != info.dimension:
            raise problems.Problem(
                502,
                "embedding-failed",
                "Embedding failed",
                f"model {info.embedding.model} returned {encoded.vectors.shape[1]}-dimensional vectors; "
                f"index {info.name} has dimension {info.dimension}",
            )
        vectors: list[list[float]] = encoded.vectors.tolist()
        return vectors

    async def _records(self, info: registry.IndexInfo, points: list[models.Point]) -> list[models.Record]:
        texts = [(i, p.text) for i, p in enumerate(points) if p.text is not None]
        vectors: dict[int, list[float]] = {}
        if texts:
            locs: list[Loc] = [["points", i, "text"] for i, _ in texts]
            embedded = await self.embed(info, [t for _, t in texts], locs)
            vectors = {i: v for (i, _), v in zip(texts, embedded, strict=True)}
        records = [models.Record(p.id, p.vector or vectors[i], _payload(p)) for i, p in enumerate(points)]
        _check_dimension(info, [(["points", i, "vector"], r.vector) for i, r in enumerate(records)])
        return records

    async def _store(
        self,
        info: registry.IndexInfo,
        on_pgvector: Callable[[asyncpg.Connection], Awaitable[T]],
        on_qdrant: Callable[[AsyncQdrantClient], Awaitable[T]],
    ) -> T:
        try:
            if info.backend == "pgvector":
                async with db.tenant_transaction(self._pool, info.tenant) as conn:
                    return await on_pgvector(conn)
            return await on_qdrant(self._client())
        except (asyncpg.UndefinedTableError, registry.StorageMissingError) as exc:
            raise _not_provisioned(info) from exc

    async def upsert(self, info: registry.IndexInfo, records: list[models.Record]) -> int:
        """Insert or replace records (by id) in the index."""
        return await self._store(
            info,
            lambda conn: pgvector.upsert(conn, info, records),
            lambda client: _qdrant().upsert(client, info, records),
        )

    async def delete_stale(self, info: registry.IndexInfo, documents: list[str], keep: list[str]) -> int:
        """Delete the chunks of `documents` that are not in `keep` (what re-ingesting leaves behind)."""
        return await self._store(
            info,
            lambda conn: pgvector.delete_stale(conn, info, documents, keep),
            lambda client: _qdrant().delete_stale(client, info, documents, keep),
        )

    async def insert(self, tenant: str, request: models.InsertRequest) -> models.InsertResponse:
        """Upsert a batch of points (vectors, or texts embedded by the index's model)."""
        info = await self.index(tenant, request.index)
        records = await self._records(info, request.points)
        return models.InsertResponse(index=info.name, upserted=await self.upsert(info, records))

    async def search(self, tenant: str, request: models.SearchRequest) -> models.SearchResponse:
        """Search the tenant's index with a vector or a text."""
        info = await self.index(tenant, request.index)
        if request.vector is not None:
            vector = request.vector
        else:
            vector = (await self.embed(info, [str(request.text)], [["text"]]))[0]
        _check_dimension(info, [(["vector"], vector)])
        hits = await self._store(
            info,
            lambda conn: pgvector.search(conn, info, request, vector),
            lambda client: _qdrant().search(client, info, request, vector),
        )
        return models.SearchResponse(index=info.name, hits=hits)

    async def delete(self, tenant: str, request: models.DeleteRequest) -> models.DeleteResponse:
        """Delete points by id or by filter."""
        info = await self.index(tenant, request.index)
        if request.ids is not None:
            ids = request.ids
            deleted = await self._store(
                info,
                lambda conn: pgvector.delete_ids(conn, info, ids),
                lambda client: _qdrant().delete_ids(client, info, ids),
            )
        else:
            conditions = request.filter or {}
            deleted = await self._store(
                info,
                lambda conn: pgvector.delete_matching(conn, info, conditions),
                lambda client: _qdrant().delete_matching(client, info, conditions),
            )
        return models.DeleteResponse(index=info.name, deleted=deleted)

    async def fetch(self, tenant: str, request: models.FetchRequest) -> models.FetchResponse:
        """Points by id, in the request's order (missing ids left out)."""
        info = await self.index(tenant, request.index)
        found = await self._store(
            info,
            lambda conn: pgvector.fetch(conn, info, request.ids, request.with_vectors),
            lambda client: _qdrant().fetch(client, info, request.ids, request.with_vectors),
        )
        by_id = {p.id: p for p in found}
        return models.FetchResponse(index=info.name, points=[by_id[i] for i in request.ids if i in by_id])

    async def list_indexes(self, tenant: str) -> models.IndexList:
        """The tenant's indexes with their point counts (None while the storage is not provisioned)."""
        async with db.tenant_transaction(self._pool, tenant) as conn:
            infos = await registry.list_all(conn, tenant)
        out = []
        for info in infos:
            try:
                points: int | None = await self._store(
                    info,
                    lambda conn, i=info: pgvector.count(conn, i),  # type: ignore[misc]
                    lambda client, i=info: _qdrant().count(client, i),  # type: ignore[misc]
                )
            except problems.Problem:
                points = None
            model = info.embedding.model if info.embedding else None
            out.append(
                models.IndexOut(
                    name=info.name,
                    backend=info.backend,
                    dimension=info.dimension,
                    distance=info.distance,
                    points=points,
                    model=model,
                )
            )
        return models.IndexList(indexes=out)

    def _client(self) -> AsyncQdrantClient:
        if self._qdrant is None:
            raise problems.unavailable("this runtime has no Qdrant configured")
        return self._qdrant
