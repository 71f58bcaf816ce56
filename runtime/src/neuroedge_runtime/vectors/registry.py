"""The VectorIndex registry (`neuroedge.vector_indexes`), read under RLS on a tenant connection."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


class StorageMissingError(LookupError):
    """The index is registered but its table or collection does not exist (yet)."""


@dataclass(frozen=True)
class IndexInfo:
    """Where and how an index stores its vectors."""

    tenant: str
    name: str
    backend: str
    dimension: int
    distance: str
    storage_name: str


async def fetch(conn: asyncpg.Connection, tenant: str, name: str) -> IndexInfo | None:
    """The tenant's index called `name`, or None."""
    row = await conn.fetchrow(
        "SELECT tenant_id, name, backend, dimension, distance, storage_name FROM neuroedge.vector_indexes "
        "WHERE tenant_id = $1 AND name = $2",
        tenant,
        name,
    )
    if row is None:
        return None
    return IndexInfo(
        row["tenant_id"], row["name"], row["backend"], row["dimension"], row["distance"], row["storage_name"]
    )
