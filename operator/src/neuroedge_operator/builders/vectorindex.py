"""The storage layout a parsed VectorIndex asks for, in the backend-neutral shape the planner and both
backends speak (`resources/storage.Layout`)."""

from __future__ import annotations

from neuroedge_operator.builders import pgvector as pgvector_ddl
from neuroedge_operator.resources import storage
from neuroedge_operator.resources import vectorindex as model


def layout(tenant: str, index: model.VectorIndex, api_key: str | None = None) -> storage.Layout:
    """The desired storage of `index` of `tenant`: named by tenant and index, parameters from the spec
    (`api_key`: its external embedding provider's key, read from the tenant's Secret by the handler)."""
    spec = index.spec
    embedding = None
    if spec.embedding is not None:
        embedding = storage.EmbeddingModel(
            spec.embedding.model, spec.embedding.provider, spec.embedding.base_url, api_key
        )
    return storage.Layout(
        tenant=tenant,
        name=index.name,
        storage_name=pgvector_ddl.storage_name(tenant, index.name),
        backend=spec.backend,
        dimension=spec.dimension,
        distance=spec.distance,
        m=spec.hnsw.m,
        ef_construct=spec.hnsw.ef_construct,
        on_disk=spec.on_disk,
        payload_indexes=frozenset(storage.PayloadIndex(p.field, p.type) for p in spec.payload_indexes),
        embedding=embedding,
    )
