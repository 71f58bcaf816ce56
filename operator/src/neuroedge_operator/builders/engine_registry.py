"""Pure SQL of the Engine registry (`neuroedge.engines`, schema version 2): the row the runtime's `/engine/*`
endpoints read to know which engines a tenant has, of which type, with which configuration.

The reconciler reads the row first and upserts only when kind or config differ, so an idle reconcile runs no
write at all; the upsert itself also leaves an equal row (and its `updated_at`) alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from neuroedge_operator.builders import sql


def select_sql() -> str:
    """kind and config (JSON text) of the row of ($1 tenant, $2 name)."""
    return (
        f"SELECT kind, config::text AS config FROM {sql.table('engines')} "  # noqa: S608 - constant
        "WHERE tenant_id = $1 AND name = $2"
    )


def upsert_sql() -> str:
    """Insert or update the row of ($1 tenant, $2 name) with $3 kind and $4 config (JSON text)."""
    return (
        f"INSERT INTO {sql.table('engines')} AS e (tenant_id, name, kind, config) "  # noqa: S608 - constant
        "VALUES ($1, $2, $3, $4::jsonb) "
        "ON CONFLICT (tenant_id, name) DO UPDATE SET kind = EXCLUDED.kind, config = EXCLUDED.config, "
        "updated_at = now() "
        "WHERE e.kind IS DISTINCT FROM EXCLUDED.kind OR e.config IS DISTINCT FROM EXCLUDED.config"
    )


def up_to_date(row: tuple[str, str] | None, kind: str, config: Mapping[str, str]) -> bool:
    """Whether the stored (kind, config JSON) already say `kind` and `config`."""
    return row is not None and row[0] == kind and json.loads(row[1]) == dict(config)


def delete_sql() -> str:
    """Delete the row of ($1 tenant, $2 name)."""
    return f"DELETE FROM {sql.table('engines')} WHERE tenant_id = $1 AND name = $2"  # noqa: S608


def upsert_args(tenant: str, name: str, kind: str, config: Mapping[str, str]) -> tuple[str, str, str, str]:
    """Bind parameters of `upsert_sql` (config as canonical JSON text)."""
    return (tenant, name, kind, json.dumps(dict(config), sort_keys=True, separators=(",", ":")))
