"""Translation between a VectorIndex layout and qdrant-client's models: what the reconciler sends and reads.

The runtime stores the caller's payload under `data` and the tenant under `tenant_id` (docs/architecture.md),
so a payload index on field `lang` is an index on key `data.lang`, and every collection also gets a keyword
index on `tenant_id`, the filter of every search.
"""

from __future__ import annotations

from typing import Any

from qdrant_client import models as qm

from neuroedge_operator.resources import storage as layouts

DATA = "data"
TENANT_KEY = "tenant_id"
SCHEMA_TYPES = {
    "keyword": qm.PayloadSchemaType.KEYWORD,
    "integer": qm.PayloadSchemaType.INTEGER,
    "float": qm.PayloadSchemaType.FLOAT,
    "bool": qm.PayloadSchemaType.BOOL,
    "text": qm.PayloadSchemaType.TEXT,
    "datetime": qm.PayloadSchemaType.DATETIME,
}
_TYPE_NAMES = {schema.value: name for name, schema in SCHEMA_TYPES.items()}


def payload_key(field: str) -> str:
    """The Qdrant payload key of a caller's payload field."""
    return f"{DATA}.{field}"


def collection_params(layout: layouts.Layout) -> dict[str, Any]:
    """Keyword arguments of `create_collection` for the layout (one unnamed dense vector)."""
    return {
        "collection_name": layout.storage_name,
        "vectors_config": qm.VectorParams(
            size=layout.dimension, distance=qm.Distance(layout.distance), on_disk=layout.on_disk
        ),
        "hnsw_config": qm.HnswConfigDiff(m=layout.m, ef_construct=layout.ef_construct),
    }


def hnsw_diff(layout: layouts.Layout) -> qm.HnswConfigDiff:
    """The HNSW change of `update_collection` (Qdrant rebuilds the index in the background; points stay)."""
    return qm.HnswConfigDiff(m=layout.m, ef_construct=layout.ef_construct)


def on_disk_diff(layout: layouts.Layout) -> dict[str, qm.VectorParamsDiff]:
    """The vectors change of `update_collection` moving the unnamed vector to or from disk."""
    return {"": qm.VectorParamsDiff(on_disk=layout.on_disk)}


def tenant_index() -> qm.KeywordIndexParams:
    """The `tenant_id` index: a keyword index flagged as the tenant key, which Qdrant co-locates by."""
    return qm.KeywordIndexParams(type=qm.KeywordIndexType.KEYWORD, is_tenant=True)


def storage(info: qm.CollectionInfo) -> layouts.Storage:
    """What a collection holds, in the planner's terms (collections with named vectors report no size)."""
    vectors = info.config.params.vectors
    params = vectors if isinstance(vectors, qm.VectorParams) else None
    hnsw = info.config.hnsw_config
    return layouts.Storage(
        dimension=params.size if params else None,
        distance=params.distance.value if params else None,
        hnsw=(hnsw.m, hnsw.ef_construct),
        on_disk=bool(params.on_disk) if params else None,
        payload_indexes=payload_indexes(info.payload_schema or {}),
    )


def payload_indexes(schema: dict[str, qm.PayloadIndexInfo]) -> frozenset[layouts.PayloadIndex]:
    """Our payload indexes among a collection's (`data.*` keys of a known type)."""
    found = set()
    for key, index in schema.items():
        kind = _TYPE_NAMES.get(getattr(index.data_type, "value", str(index.data_type)))
        if key.startswith(f"{DATA}.") and kind is not None:
            found.add(layouts.PayloadIndex(key.removeprefix(f"{DATA}."), kind))
    return frozenset(found)
