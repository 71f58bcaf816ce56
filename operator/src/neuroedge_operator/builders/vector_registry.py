"""Pure SQL of the VectorIndex registry (`neuroedge.vector_indexes`): the row the runtime reads to find a
tenant's index (backend, dimension, distance, storage name, embedding model), written by the VectorIndex
reconciler for both backends."""

from __future__ import annotations

from neuroedge_operator.builders import sql

COLUMNS = (
    "backend",
    "dimension",
    "distance",
    "storage_name",
    "embedding_model",
    "embedding_provider",
    "embedding_base_url",
    "embedding_api_key",
)


def select_sql() -> str:
    """The row of ($1 tenant, $2 index name)."""
    return (
        f"SELECT {', '.join(COLUMNS)} FROM {sql.table('vector_indexes')} "  # noqa: S608 - constant
        "WHERE tenant_id = $1 AND name = $2"
    )


def upsert_sql() -> str:
    """Insert or update the row of ($1 tenant, $2 name) with $3.. in COLUMNS order."""
    params = ", ".join(f"${i}" for i in range(3, len(COLUMNS) + 3))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS)
    return (
        f"INSERT INTO {sql.table('vector_indexes')} (tenant_id, name, {', '.join(COLUMNS)}) "  # noqa: S608
        f"VALUES ($1, $2, {params}) ON CONFLICT (tenant_id, name) DO UPDATE SET {updates}"
    )


def delete_sql() -> str:
    """Delete the row of ($1 tenant, $2 name)."""
    return f"DELETE FROM {sql.table('vector_indexes')} WHERE tenant_id = $1 AND name = $2"  # noqa: S608
