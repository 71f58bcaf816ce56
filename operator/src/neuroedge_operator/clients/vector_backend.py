"""The one small interface both VectorIndex backends (pgvector, Qdrant) implement.

The handler's context holds a `Backends`: built from the settings in the operator, built with an in-process
Qdrant (`AsyncQdrantClient(location=":memory:")`) in tests. A backend that is not configured is `None`, which
the reconciler reports as `BackendUnavailable` instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from neuroedge_operator.plan import vectorindex as plan


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
