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


async def upsert(client: AsyncQdrantClient, info: IndexInfo, points: list[models.Point]) -> int:
    """Insert or replace `points` in the index's collection."""
    try:
        await _upsert(client, info, points)
    except (ValueError, UnexpectedResponse) as exc:  # local mode: ValueError; a server: 404
        raise StorageMissingError(info.storage_name) from exc
    return len(points)


async def _upsert(client: AsyncQdrantClient, info: IndexInfo, points: list[models.Point]) -> None:
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


async def search(
    client: AsyncQdrantClient, info: IndexInfo, request: models.SearchRequest
) -> list[models.Hit]:
    """The `top_k` nearest points of the tenant matching the filter, best first."""
    try:
        response = await client.query_points(
            collection_name=info.storage_name,
            query=request.vector,
            query_filter=build_filter(info.tenant, request.filter),
            limit=request.top_k,
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
