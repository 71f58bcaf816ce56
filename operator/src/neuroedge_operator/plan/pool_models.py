"""Which Engines' model volumes a WorkerPool's pods mount, and which pools an Engine's change concerns.

A predictive Engine whose model is on a volume (`pvc://`, `configmap://`) has its `/engine/run` jobs scored
by the workers of its `workerPoolRef`, so those workers need the volume too. The pool mounts the models of
the Engines it serves (same namespace, naming the pool, allowed by the pool's `spec.engines`), never an
Engine being deleted and never another namespace's: an Engine of another tenant that names a pool of the same
name names a different pool.

A volume that does not exist is never mounted (plan/model_volumes.py): the pool's pods would stay Pending.

Pure: the handler parses the Engines (from the watch cache), reads which of their volumes exist, and passes
both in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from neuroedge_operator.builders import workerpool as pool_builder
from neuroedge_operator.plan import model_volumes, references
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model

VOLUME_SCHEMES = frozenset(model_volumes.KINDS)


@dataclass(frozen=True)
class EngineFacts:
    """What of an Engine decides its pools' pods: its pool and its volume model (None: none of either), and
    whether it is being deleted. Two versions with equal facts need no pool reconciled."""

    namespace: str
    name: str
    pool: str | None
    model: engine_model.ModelSource | None
    deleting: bool


def facts(engine: engine_model.Engine, deleting: bool) -> EngineFacts:
    """The facts of a parsed Engine (the handler knows whether its body carries a deletionTimestamp)."""
    ref = engine.spec.worker_pool_ref
    model = engine.spec.model
    volume = model if model is not None and model.scheme in VOLUME_SCHEMES else None
    return EngineFacts(engine.namespace, engine.name, ref.name if ref else None, volume, deleting)


def wanted_volumes(pool: pool_model.WorkerPool, engines: Iterable[EngineFacts]) -> list[model_volumes.Volume]:
    """The claims and ConfigMaps the Engines `pool` serves have their models on: the handler reads which of
    them exist (by name) before the pool mounts any."""
    found = {model_volumes.of(e.model) for e in engines if _served(pool, e)}
    return sorted((v for v in found if v is not None), key=lambda v: (v.kind, v.name))


def served_models(
    pool: pool_model.WorkerPool, engines: Iterable[EngineFacts], existing: Collection[model_volumes.Volume]
) -> list[pool_builder.ServedModel]:
    """The volume models of the Engines `pool` serves, by Engine name: only Engines of the pool's namespace
    that name it, are allowed by its `spec.engines`, are not being deleted, and whose volume is among
    `existing` (in the pool's namespace). A missing one is left out, not mounted: its pods would stay Pending
    and the pool's rollout would stall for every Engine it serves; the Engine itself reports it."""
    found = [
        pool_builder.ServedModel(e.name, e.model)
        for e in engines
        if e.model is not None and _served(pool, e) and model_volumes.of(e.model) in existing
    ]
    return sorted(found, key=lambda served: served.engine)


def _served(pool: pool_model.WorkerPool, engine: EngineFacts) -> bool:
    return (
        engine.namespace == pool.namespace
        and engine.pool == pool.name
        and engine.model is not None
        and not engine.deleting
        and references.serves(pool.spec.engines, engine.name)
    )


def affected_pools(old: EngineFacts | None, new: EngineFacts | None) -> list[tuple[str, str]]:
    """(namespace, pool) of the pools whose pods an Engine's change from `old` to `new` may change (None:
    absent or unreadable): none when neither version has a volume model on a pool or nothing that matters
    changed (a status write, a replica count), else the pool(s) it names before and after."""
    if old == new:
        return []
    pools = {(f.namespace, f.pool) for f in (old, new) if f is not None and f.pool and f.model is not None}
    return sorted(pools)
