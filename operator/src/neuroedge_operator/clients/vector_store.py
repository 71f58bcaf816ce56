"""The factory the handlers get the VectorIndex backends from, and the registry rows of indexes.

The interface both backends implement is `vector_backend` (a module of its own, so that the backends import
it without importing this factory, which imports them).

The handler's context holds a `Backends`: built from the settings in the operator, built with an in-process
Qdrant (`AsyncQdrantClient(location=":memory:")`) in tests. A backend that is not configured is `None`, which
the reconciler reports as `BackendUnavailable` instead of failing.
"""

from __future__ import annotations

from neuroedge_operator.builders import sql, vector_registry
from neuroedge_operator.clients import postgres
from neuroedge_operator.clients.vector_backend import Backend, BackendError, Backends, BackendUnreachableError
from neuroedge_operator.plan import database
from neuroedge_operator.plan import vectorindex as plan
from neuroedge_operator.settings import OperatorSettings

__all__ = ["Backend", "BackendError", "BackendUnreachableError", "Backends"]


def from_settings(settings: OperatorSettings, db: postgres.Database) -> Backends:
    """pgvector on the operator's database; Qdrant only when NEUROEDGE_QDRANT_URL is set (qdrant-client is
    imported only then: it is large and most installations may not use it)."""
    from neuroedge_operator.clients import pgvector  # noqa: PLC0415

    qdrant_backend: Backend | None = None
    if settings.qdrant_url:
        from neuroedge_operator.clients import qdrant  # noqa: PLC0415

        qdrant_backend = qdrant.QdrantBackend.connect(settings.qdrant_url, settings.qdrant_api_key)
    return Backends(pgvector=pgvector.PgvectorBackend(db), qdrant=qdrant_backend)


_TENANT_STATE = (
    "SELECT EXISTS (SELECT 1 FROM neuroedge.tenants WHERE tenant_id = $1) AS registered, "
    "EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $2) AS role"
)


async def tenant_missing(db: postgres.Database, tenant: str) -> str | None:
    """What the Tenant reconciler has not provisioned yet (registry row, login role), or None."""
    row = await db.fetchrow(_TENANT_STATE, tenant, sql.role_name(tenant))
    if row is None:  # the query always returns one row
        raise BackendError("reading the tenant's state returned nothing")
    missing = [
        what for what, key in (("registry row", "registered"), ("database role", "role")) if not row[key]
    ]
    return " and ".join(missing) or None


async def registered(db: postgres.Database, tenant: str, name: str) -> plan.Registered | None:
    """The index's row in `neuroedge.vector_indexes`, or None."""
    row = await db.fetchrow(vector_registry.select_sql(), tenant, name)
    if row is None:
        return None
    return plan.Registered(*(row[c] for c in vector_registry.COLUMNS))


async def register(db: postgres.Database, layout: plan.Layout) -> None:
    """Write the index's registry row (what the runtime reads to find it)."""
    row = plan.registered(layout)
    args = (layout.tenant, layout.name, *(getattr(row, c) for c in vector_registry.COLUMNS))
    await db.execute([database.Action("upsert", vector_registry.upsert_sql(), args)])


async def unregister(db: postgres.Database, tenant: str, name: str) -> None:
    """Remove the index's registry row: the runtime stops serving the index."""
    await db.execute([database.Action("delete", vector_registry.delete_sql(), (tenant, name))])
