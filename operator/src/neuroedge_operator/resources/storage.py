"""The value types that describe a VectorIndex's storage: the layout it should have and what a backend
reports holding. Builders (DDL, collection configs), the planner and the backend clients all speak them, so
they sit at the bottom layer with the other resource models rather than in the planner.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class PayloadIndex:
    """An indexed payload field and its type (the CRD's names)."""

    field: str
    type: str


@dataclass(frozen=True)
class Layout:
    """What the storage of one VectorIndex should be."""

    tenant: str
    name: str
    storage_name: str
    backend: str
    dimension: int
    distance: str
    m: int = 16
    ef_construct: int = 100
    on_disk: bool = False
    payload_indexes: frozenset[PayloadIndex] = frozenset()
    embedding: EmbeddingModel | None = None


@dataclass(frozen=True)
class EmbeddingModel:
    """The model that embeds the index's texts, as the runtime reads it from the registry row."""

    model: str
    provider: str
    base_url: str | None = None
    api_key: str | None = None


@dataclass(frozen=True)
class Storage:
    """What a backend holds for an index. `None` fields are not known or do not apply to the backend
    (pgvector has no on-disk switch; an HNSW index can be missing)."""

    dimension: int | None
    distance: str | None
    hnsw: tuple[int, int] | None = None
    """(m, ef_construct) of the one valid HNSW index, None when there is none."""
    hnsw_clean: bool = True
    """False when the HNSW index is not exactly one valid index (a failed or half-done rebuild)."""
    on_disk: bool | None = None
    payload_indexes: frozenset[PayloadIndex] = frozenset()
    access_ok: bool = True
    """pgvector: RLS, owner, grants and policies are exactly as they should be."""
    stray_roles: tuple[str, ...] = ()
    """pgvector: roles holding privileges on the table that should not (revoked by `secure_access`)."""
    stray_policies: tuple[str, ...] = ()
    """pgvector: policies on the table that are not ours (dropped by `secure_access`)."""
