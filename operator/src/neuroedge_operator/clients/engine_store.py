"""The Engine registry row in PostgreSQL (`neuroedge.engines`), over the operator's admin connection."""

from __future__ import annotations

from collections.abc import Mapping

from neuroedge_operator.builders import engine_registry
from neuroedge_operator.clients import postgres
from neuroedge_operator.plan import database


async def register(
    db: postgres.Database, tenant: str, name: str, kind: str, config: Mapping[str, str]
) -> bool:
    """Make the row say `kind` and `config`; returns whether anything was written (an equal row is left
    alone, so an idle reconcile runs one SELECT and no write)."""
    row = await db.fetchrow(engine_registry.select_sql(), tenant, name)
    stored = (str(row["kind"]), str(row["config"])) if row is not None else None
    if engine_registry.up_to_date(stored, kind, config):
        return False
    args = engine_registry.upsert_args(tenant, name, kind, config)
    await db.execute([database.Action("upsert", engine_registry.upsert_sql(), args)])
    return True


async def unregister(db: postgres.Database, tenant: str, name: str) -> None:
    """Remove the row: the runtime stops serving the engine."""
    await db.execute([database.Action("delete", engine_registry.delete_sql(), (tenant, name))])
