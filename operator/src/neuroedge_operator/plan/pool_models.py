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

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

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


def wanted_volumes(
    pool: pool_model.WorkerPool,
    engines: Iterable[EngineFacts],
    previous: Mapping[str, engine_model.ModelSource] | None = None,
) -> list[model_volumes.Volume]:
    """The claims and ConfigMaps the Engines `pool` serves have their models on, and those of the models
    its pods were started with (`previous`): the handler reads which of them exist (by name) before the pool
    mounts any."""
    served = [e for e in engines if _served(pool, e)]
    models = [e.model for e in served] + [(previous or {}).get(e.name) for e in served]
    found = {model_volumes.of(model) for model in models}
    return sorted((v for v in found if v is not None), key=lambda v: (v.kind, v.name))


def served_models(
    pool: pool_model.WorkerPool,
    engines: Iterable[EngineFacts],
    existing: Collection[model_volumes.Volume],
    previous: Mapping[str, engine_model.ModelSource] | None = None,
) -> list[pool_builder.ServedModel]:
    """The volume models of the Engines `pool` serves, by Engine name: only Engines of the pool's namespace
    that name it, are allowed by its `spec.engines` and are not being deleted.

    A model whose volume is not among `existing` (in the pool's namespace) is never mounted: the pods would
    stay Pending and the pool's rollout would stall for every Engine it serves (the Engine itself reports
    it). In its place the pool keeps the model its pods were started with for that Engine (`previous`, from
    its live pod template), if that volume still exists: the Engine holds its own pods and its registry row
    on that model too (handlers/engine.py), so its jobs keep being scored by the model it serves."""
    found = []
    for engine in engines:
        if engine.model is None or not _served(pool, engine):
            continue
        earlier = (previous or {}).get(engine.name)
        if model_volumes.of(engine.model) in existing:
            found.append(pool_builder.ServedModel(engine.name, engine.model))
        elif earlier is not None and model_volumes.of(earlier) in existing:
            found.append(pool_builder.ServedModel(engine.name, earlier))
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


def started_models(deployment: Mapping[str, Any] | None) -> dict[str, engine_model.ModelSource]:
    """The volume models the pool's live Deployment (None: none yet) started its pods with, by Engine
    (`pool_builder.models_annotation` read back); an entry that does not parse is left out (the pool then
    simply does not keep it)."""
    template = ((deployment or {}).get("spec") or {}).get("template") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    try:
        served = json.loads(str(annotations.get(pool_builder.ENGINE_MODELS_ANNOTATION) or "{}"))
    except ValueError:
        return {}
    found: dict[str, engine_model.ModelSource] = {}
    for engine, model in served.items() if isinstance(served, dict) else ():
        try:
            found[str(engine)] = engine_model.ModelSource.model_validate(model)
        except pydantic.ValidationError:
            continue
    return found
