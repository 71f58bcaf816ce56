"""The one small interface both VectorIndex backends implement, and the factory the handlers get them from.

The handler's context holds a `Backends`: built from the settings in the operator, built with an in-process
Qdrant (`AsyncQdrantClient(location=":memory:")`) in tests. A backend that is not configured is `None`, which
the reconciler reports as `BackendUnavailable` instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from neuroedge_operator.builders import sql, vector_registry
from neuroedge_operator.clients import postgres
from neuroedge_operator.plan import database
from neuroedge_operator.plan import vectorindex as plan
from neuroedge_operator.settings import OperatorSettings


class BackendError(Exception):
    """The backend refused an operation (the message says why)."""


class BackendUnreachableError(BackendError):
    """The backend did not answer."""


class Backend(Protocol):
    """Storage of VectorIndexes: observe, change in place, count, drop."""

    async def observe(self, layout: plan.Layout) -> plan.Storage | None:
        """What the backend holds for `layout`'s storage name; None when it does not exist."""

    async def apply(self, layout: plan.Layout, actions: Sequence[plan.Action]) -> None:
        """Carry out the planner's storage actions, in order."""

    async def count(self, storage_name: str) -> int:
        """Number of points stored (every tenant's: a storage belongs to one tenant)."""

    async def drop(self, storage_name: str) -> bool:
        """Delete the storage and its data; False when it did not exist."""

    async def close(self) -> None:
        """Release connections."""


@dataclass
class Backends:
    """The configured backends by name."""

    pgvector: Backend | None = None
    qdrant: Backend | None = None

    def get(self, name: str) -> Backend | None:
        return self.pgvector if name == "pgvector" else self.qdrant if name == "qdrant" else None

    async def close(self) -> None:
        for backend in (self.pgvector, self.qdrant):
            if backend is not None:
                await backend.close()


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
