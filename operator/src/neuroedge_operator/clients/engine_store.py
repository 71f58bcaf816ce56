"""The Engine registry row in PostgreSQL (`neuroedge.engines`), over the operator's admin connection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from neuroedge_operator.builders import engine_registry
from neuroedge_operator.clients import postgres
from neuroedge_operator.plan import database


async def register(
    db: postgres.Database,
    tenant: str,
    name: str,
    kind: str,
    config: Mapping[str, str],
    *,
    model: Mapping[str, Any] | None = None,
) -> bool:
    """Make the row say `kind`, `config` and `model`; returns whether anything was written (an equal row is
    left alone, so an idle reconcile runs one SELECT and no write)."""
    row = await db.fetchrow(engine_registry.select_sql(), tenant, name)
    stored = (str(row["kind"]), str(row["config"]), row["model"]) if row is not None else None
    if engine_registry.up_to_date(stored, kind, config, model):
        return False
    args = engine_registry.upsert_args(tenant, name, kind, config, model)
    await db.execute([database.Action("upsert", engine_registry.upsert_sql(), args)])
    return True


async def unregister(db: postgres.Database, tenant: str, name: str) -> None:
    """Remove the row: the runtime stops serving the engine."""
    await db.execute([database.Action("delete", engine_registry.delete_sql(), (tenant, name))])
