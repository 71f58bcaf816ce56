"""Pure SQL of the Engine registry (`neuroedge.engines`, schema versions 2 and 3): the row the runtime's
`/engine/*` and `/v2` endpoints read to know which engines a tenant has, of which type, with which
configuration and (version 3) which trained model (`spec.model` with `spec.batching`, NULL when none).

The reconciler reads the row first and upserts only when kind or config differ, so an idle reconcile runs no
write at all; the upsert itself also leaves an equal row (and its `updated_at`) alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from neuroedge_operator.builders import sql


def select_sql() -> str:
    """kind, config and model (JSON text) of the row of ($1 tenant, $2 name)."""
    return (
        f"SELECT kind, config::text AS config, model::text AS model FROM {sql.table('engines')} "  # noqa: S608
        "WHERE tenant_id = $1 AND name = $2"
    )


def upsert_sql() -> str:
    """Insert or update the row of ($1 tenant, $2 name) with $3 kind, $4 config and $5 model (JSON text;
    model NULL for none)."""
    return (
        f"INSERT INTO {sql.table('engines')} AS e (tenant_id, name, kind, config, model) "  # noqa: S608
        "VALUES ($1, $2, $3, $4::jsonb, $5::jsonb) "
        "ON CONFLICT (tenant_id, name) DO UPDATE SET kind = EXCLUDED.kind, config = EXCLUDED.config, "
        "model = EXCLUDED.model, updated_at = now() "
        "WHERE e.kind IS DISTINCT FROM EXCLUDED.kind OR e.config IS DISTINCT FROM EXCLUDED.config "
        "OR e.model IS DISTINCT FROM EXCLUDED.model"
    )


def up_to_date(
    row: tuple[str, str, str | None] | None,
    kind: str,
    config: Mapping[str, str],
    model: Mapping[str, Any] | None = None,
) -> bool:
    """Whether the stored (kind, config JSON, model JSON) already say `kind`, `config` and `model`."""
    if row is None or row[0] != kind or json.loads(row[1]) != dict(config):
        return False
    stored = json.loads(row[2]) if row[2] is not None else None
    return stored == (dict(model) if model is not None else None)


def reports_sql() -> str:
    """The model load reports of the Engine ($1 tenant, $2 name), inputs and outputs as JSON text."""
    return (
        "SELECT instance, uri, sha256, loaded, reason, message, inputs::text AS inputs, "  # noqa: S608
        f"outputs::text AS outputs FROM {sql.table('engine_model_reports')} "
        "WHERE tenant_id = $1 AND name = $2"
    )


def delete_sql() -> str:
    """Delete the row of ($1 tenant, $2 name)."""
    return f"DELETE FROM {sql.table('engines')} WHERE tenant_id = $1 AND name = $2"  # noqa: S608


def upsert_args(
    tenant: str, name: str, kind: str, config: Mapping[str, str], model: Mapping[str, Any] | None = None
) -> tuple[str, str, str, str, str | None]:
    """Bind parameters of `upsert_sql` (config and model as canonical JSON text)."""
    return (tenant, name, kind, _canonical(config), _canonical(model) if model is not None else None)


def _canonical(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))
