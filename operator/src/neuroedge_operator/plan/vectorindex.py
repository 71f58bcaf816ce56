"""The VectorIndex planner: desired layout vs observed storage and registry row -> actions, or a refusal.

Pure and backend-neutral: Qdrant and pgvector report what they hold in the same `Storage` shape, and each
backend knows how to carry out every action. Mutable parameters (HNSW m/ef_construct, on-disk, payload
indexes, access rules) are changed in place. Immutable ones (backend, dimension, distance, storage name) are
never "fixed": a divergence means the stored vectors were made for another layout, and the only repair is
to drop them, which the planner refuses to do; it reports the divergence instead and plans nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from neuroedge_operator.resources.storage import EmbeddingModel, Layout, PayloadIndex, Storage

__all__ = ["EmbeddingModel", "Layout", "PayloadIndex", "Storage"]

ActionKind = Literal[
    "create_storage",
    "rebuild_hnsw",
    "set_on_disk",
    "drop_payload_index",
    "create_payload_index",
    "secure_access",
    "register",
]


@dataclass(frozen=True)
class Registered:
    """The `neuroedge.vector_indexes` row of the index, as the runtime reads it."""

    backend: str
    dimension: int
    distance: str
    storage_name: str
    embedding_model: str | None = None
    embedding_provider: str | None = None
    embedding_base_url: str | None = None
    embedding_api_key: str | None = None


@dataclass(frozen=True)
class Action:
    """One step; the backend takes the parameters from the `Layout` (and `roles`/`policies` for access)."""

    kind: ActionKind
    index: PayloadIndex | None = None
    roles: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The actions to run in order, or divergences (then no action at all)."""

    actions: tuple[Action, ...] = ()
    divergences: tuple[str, ...] = ()
    recreated: bool = False
    """The storage was registered but is gone (deleted by hand): it is recreated empty."""

    @property
    def storage_actions(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind != "register")


def registered(layout: Layout) -> Registered:
    """The registry row `layout` should have."""
    embedding = layout.embedding
    if embedding is None:
        return Registered(layout.backend, layout.dimension, layout.distance, layout.storage_name)
    return Registered(
        layout.backend,
        layout.dimension,
        layout.distance,
        layout.storage_name,
        embedding.model,
        embedding.provider,
        embedding.base_url,
        embedding.api_key,
    )


def divergences(layout: Layout, storage: Storage | None, row: Registered | None) -> list[str]:
    """Immutable parameters that differ between the spec and what exists, one message each."""
    found: list[str] = []
    if row is not None:
        for name, have in (
            ("backend", row.backend),
            ("dimension", row.dimension),
            ("distance", row.distance),
            ("storage name", row.storage_name),
        ):
            want = getattr(registered(layout), name.replace(" ", "_"))
            if have != want:
                found.append(f"{name} is {want} in the spec but {have} in the registry")
    if storage is not None:
        stored: tuple[tuple[str, object, object], ...] = (
            ("dimension", storage.dimension, layout.dimension),
            ("distance", storage.distance, layout.distance),
        )
        for name, stored_value, want in stored:
            if stored_value is not None and stored_value != want:
                found.append(f"{name} is {want} in the spec but {stored_value} in {layout.storage_name}")
    return found


def plan(layout: Layout, storage: Storage | None, row: Registered | None) -> Plan:
    """What to do so that the index's storage and registry row match `layout`."""
    problems = divergences(layout, storage, row)
    if problems:
        return Plan(divergences=tuple(problems))
    register = [] if row == registered(layout) else [Action("register")]
    if storage is None:
        return Plan((Action("create_storage"), *register), recreated=row is not None)
    return Plan((*_storage_actions(layout, storage), *register))


def _storage_actions(layout: Layout, storage: Storage) -> list[Action]:
    actions: list[Action] = []
    if not storage.access_ok:
        actions.append(Action("secure_access", roles=storage.stray_roles, policies=storage.stray_policies))
    if storage.hnsw != (layout.m, layout.ef_construct) or not storage.hnsw_clean:
        actions.append(Action("rebuild_hnsw"))
    if storage.on_disk is not None and storage.on_disk != layout.on_disk:
        actions.append(Action("set_on_disk"))
    actions += [
        Action("drop_payload_index", index)
        for index in sorted(storage.payload_indexes - layout.payload_indexes)
    ]
    actions += [
        Action("create_payload_index", index)
        for index in sorted(layout.payload_indexes - storage.payload_indexes)
    ]
    return actions


def count_changed(old_count: object, new_count: int, has_count_time: bool) -> bool:
    """Whether to publish `new_count` (and a new lastCountTime): only when it differs from the published one
    (or none was published). The count is re-measured every pass, but an unchanged count is not rewritten:
    an idle operator writes nothing, so lastCountTime is when the current value was first measured."""
    return old_count != new_count or not has_count_time
