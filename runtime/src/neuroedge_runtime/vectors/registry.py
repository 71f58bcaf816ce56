"""The VectorIndex registry (`neuroedge.vector_indexes`), read under RLS on a tenant connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from neuroedge_runtime.embeddings.resolver import EmbeddingConfig


class StorageMissingError(LookupError):
    """The index is registered but its table or collection does not exist (yet)."""


@dataclass(frozen=True)
class IndexInfo:
    """Where and how an index stores its vectors, and the model that embeds its texts (None: vectors only)."""

    tenant: str
    name: str
    backend: str
    dimension: int
    distance: str
    storage_name: str
    embedding: EmbeddingConfig | None = None


_COLUMNS = (
    "tenant_id, name, backend, dimension, distance, storage_name, "
    "embedding_model, embedding_provider, embedding_base_url, embedding_api_key"
)


def _info(row: Any) -> IndexInfo:
    embedding = None
    if row["embedding_model"]:
        embedding = EmbeddingConfig(
            row["embedding_model"],
            row["embedding_provider"],
            row["embedding_base_url"],
            row["embedding_api_key"],
        )
    return IndexInfo(
        row["tenant_id"],
        row["name"],
        row["backend"],
        row["dimension"],
        row["distance"],
        row["storage_name"],
        embedding,
    )


async def fetch(conn: asyncpg.Connection, tenant: str, name: str) -> IndexInfo | None:
    """The tenant's index called `name`, or None."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM neuroedge.vector_indexes WHERE tenant_id = $1 AND name = $2",  # noqa: S608
        tenant,
        name,
    )
    return None if row is None else _info(row)


async def list_all(conn: asyncpg.Connection, tenant: str) -> list[IndexInfo]:
    """Every index of the tenant, by name."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM neuroedge.vector_indexes WHERE tenant_id = $1 ORDER BY name",  # noqa: S608
        tenant,
    )
    return [_info(r) for r in rows]
