"""Qdrant backend: one collection per index (named by its storage name).

Defense in depth: every point carries `tenant_id` in its payload and every search filters on it, so even a
collection shared by mistake could not leak another tenant's points. Point ids are UUIDv5 of tenant and id
(Qdrant accepts only integers and UUIDs); the caller's id and payload are kept in the point's payload.
"""

from __future__ import annotations

import uuid
from typing import Any

from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import UnexpectedResponse

from neuroedge_runtime.vectors import models, scoring
from neuroedge_runtime.vectors.registry import IndexInfo, StorageMissingError

POINT_NAMESPACE = uuid.UUID("6f1d2c1e-7a43-4d5e-9b8a-4e6575726f45")
DATA = "data"  # payload key holding the caller's payload


def point_id(tenant: str, point: str) -> str:
    """The Qdrant id of a caller's point id."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{tenant}/{point}"))


def _match(key: str, value: models.Scalar) -> qm.Condition:
    if isinstance(value, float) and not value.is_integer():
        return qm.FieldCondition(key=key, range=qm.Range(gte=value, lte=value))
    if isinstance(value, float):
        value = int(value)
    return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))


def build_filter(tenant: str, conditions: dict[str, models.Condition]) -> qm.Filter:
    """The Qdrant filter of a metadata filter, always restricted to the tenant's points (pure)."""
    must: list[qm.Condition] = [qm.FieldCondition(key="tenant_id", match=qm.MatchValue(value=tenant))]
    for field, condition in conditions.items():
        key = f"{DATA}.{field}"
        if isinstance(condition, models.Range):
            must.append(
                qm.FieldCondition(
                    key=key,
                    range=qm.Range(gt=condition.gt, gte=condition.gte, lt=condition.lt, lte=condition.lte),
                )
            )
        elif isinstance(condition, models.AnyOf):
            must.append(qm.Filter(should=[_match(key, v) for v in condition.values]))
        else:
            must.append(_match(key, condition))
    return qm.Filter(must=must)


async def upsert(client: AsyncQdrantClient, info: IndexInfo, points: list[models.Record]) -> int:
    """Insert or replace `points` in the index's collection."""
    try:
        await _upsert(client, info, points)
    except (ValueError, UnexpectedResponse) as exc:  # local mode: ValueError; a server: 404
        raise StorageMissingError(info.storage_name) from exc
    return len(points)


async def _upsert(client: AsyncQdrantClient, info: IndexInfo, points: list[models.Record]) -> None:
    await client.upsert(
        collection_name=info.storage_name,
        points=[
            qm.PointStruct(
                id=point_id(info.tenant, p.id),
                vector=p.vector,
                payload={"tenant_id": info.tenant, "id": p.id, DATA: p.payload},
            )
            for p in points
        ],
        wait=True,
    )


def search_params(params: models.SearchParams | None) -> qm.SearchParams | None:
    """Qdrant's own search parameters, which the request's mirror by name."""
    return None if params is None else qm.SearchParams(hnsw_ef=params.hnsw_ef, exact=params.exact)


async def search(
    client: AsyncQdrantClient, info: IndexInfo, request: models.SearchRequest, vector: list[float]
) -> list[models.Hit]:
    """The `top_k` nearest points of the tenant matching the filter, best first."""
    try:
        response = await client.query_points(
            collection_name=info.storage_name,
            query=vector,
            query_filter=build_filter(info.tenant, request.filter),
            limit=request.top_k,
            search_params=search_params(request.params),
            with_payload=True,
        )
    except (ValueError, UnexpectedResponse) as exc:
        raise StorageMissingError(info.storage_name) from exc
    hits = []
    for point in response.points:
        payload: dict[str, Any] = point.payload or {}
        if payload.get("tenant_id") != info.tenant:  # never trust the filter alone
            continue
        score = scoring.from_qdrant(info.distance, point.score)
        if scoring.keep(score, request.score_threshold):
            hits.append(models.Hit(id=str(payload.get("id")), score=score, payload=payload.get(DATA) or {}))
    return hits


async def delete_ids(client: AsyncQdrantClient, info: IndexInfo, ids: list[str]) -> int:
    """Delete the tenant's points with these ids; how many existed."""
    existing = await fetch(client, info, ids, with_vectors=False)
    if existing:
        await _delete(client, info, qm.PointIdsList(points=[point_id(info.tenant, p.id) for p in existing]))
    return len(existing)


async def delete_matching(
    client: AsyncQdrantClient, info: IndexInfo, conditions: dict[str, models.Condition]
) -> int:
    """Delete the tenant's points matching a metadata filter; how many."""
    selector = build_filter(info.tenant, conditions)
    try:
        found = await client.count(info.storage_name, count_filter=selector, exact=True)
    except (ValueError, UnexpectedResponse) as exc:
        raise StorageMissingError(info.storage_name) from exc
    if found.count:
        await _delete(client, info, qm.FilterSelector(filter=selector))
    return int(found.count)


async def _delete(client: AsyncQdrantClient, info: IndexInfo, selector: qm.PointsSelector) -> None:
    try:
        await client.delete(info.storage_name, points_selector=selector, wait=True)
    except (ValueError, UnexpectedResponse) as exc:
        raise StorageMissingError(info.storage_name) from exc


async def fetch(
    client: AsyncQdrantClient, info: IndexInfo, ids: list[str], with_vectors: bool
) -> list[models.FetchedPoint]:
    """The tenant's points with these ids (those that exist)."""
    try:
        records = await client.retrieve(
            info.storage_name,
            ids=[point_id(info.tenant, i) for i in ids],
            with_payload=True,
            with_vectors=with_vectors,
        )
    except (ValueError, UnexpectedResponse) as exc:
        raise StorageMissingError(info.storage_name) from exc
    found = []
    for record in records:
        payload: dict[str, Any] = record.payload or {}
        if payload.get("tenant_id") != info.tenant:  # never trust the id alone
            continue
        vector = _plain(record.vector) if with_vectors else None
        found.append(
            models.FetchedPoint(id=str(payload.get("id")), payload=payload.get(DATA) or {}, vector=vector)
        )
    return found


def _plain(vector: Any) -> list[float] | None:
    """A retrieved point's vector (one unnamed dense vector per point in our collections)."""
    if isinstance(vector, list) and all(isinstance(x, float | int) for x in vector):
        return [float(x) for x in vector]
    return None


async def count(client: AsyncQdrantClient, info: IndexInfo) -> int:
    """How many points the tenant has in the index."""
    try:
        found = await client.count(info.storage_name, count_filter=build_filter(info.tenant, {}), exact=True)
    except (ValueError, UnexpectedResponse) as exc:
        raise StorageMissingError(info.storage_name) from exc
    return int(found.count)


async def delete_stale(
    client: AsyncQdrantClient, info: IndexInfo, documents: list[str], keep: list[str]
) -> int:
    """Delete the tenant's chunks of `documents` (payload `document`) not in `keep`; how many."""
    selector = qm.Filter(
        must=[
            qm.FieldCondition(key="tenant_id", match=qm.MatchValue(value=info.tenant)),
            qm.FieldCondition(key=f"{DATA}.document", match=qm.MatchAny(any=documents)),
        ],
        must_not=[qm.HasIdCondition(has_id=[point_id(info.tenant, k) for k in keep])] if keep else [],
    )
    try:
        found = await client.count(info.storage_name, count_filter=selector, exact=True)
    except (ValueError, UnexpectedResponse) as exc:
        raise StorageMissingError(info.storage_name) from exc
    if found.count:
        await _delete(client, info, qm.FilterSelector(filter=selector))
    return int(found.count)
