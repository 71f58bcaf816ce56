"""The Engine registry row in PostgreSQL (`neuroedge.engines`), over the operator's admin connection."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from neuroedge_operator.builders import engine_registry
from neuroedge_operator.clients import postgres
from neuroedge_operator.plan import database, model_status


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


async def model_reports(db: postgres.Database, tenant: str, name: str) -> list[model_status.ModelReport]:
    """What each runtime instance last reported about loading the Engine's model."""
    rows = await db.fetch(engine_registry.reports_sql(), tenant, name)
    return [
        model_status.ModelReport(
            instance=str(row["instance"]),
            uri=str(row["uri"]),
            sha256=str(row["sha256"]),
            loaded=bool(row["loaded"]),
            reason=str(row["reason"]),
            message=str(row["message"]),
            inputs=tuple(json.loads(row["inputs"] or "[]")),
            outputs=tuple(json.loads(row["outputs"] or "[]")),
        )
        for row in rows
    ]


async def unregister(db: postgres.Database, tenant: str, name: str) -> None:
    """Remove the row: the runtime stops serving the engine."""
    await db.execute([database.Action("delete", engine_registry.delete_sql(), (tenant, name))])
