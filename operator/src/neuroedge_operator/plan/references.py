"""Which objects an Engine or WorkerPool refers to that do not exist (yet).

A missing reference is not an error of the spec: the user may create the WorkerPool or the Secret a moment
later. So it is reported as a `Ready=False` condition that names what is missing, and the object recovers on
its own on a later pass (the handler re-checks on every reconcile and on the referenced kinds' events).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from neuroedge_operator.builders import pods
from neuroedge_operator.plan import workload_status
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model

NOT_SERVED = "NotServedByPool"


@dataclass(frozen=True)
class ObservedNames:
    """Names that exist in the object's namespace, as the handler listed them."""

    worker_pools: Collection[str] = ()
    config_maps: Collection[str] = ()
    secrets: Collection[str] = ()
    pool_engines: Mapping[str, Collection[str]] | None = None
    """WorkerPool name -> its spec.engines (empty: every Engine naming the pool), when the handler read the
    pools (None skips that check)."""
    secret_keys: Mapping[str, Collection[str]] | None = None
    """Secret name -> its data keys, for the Secrets whose keys the spec names (spec.llm API keys)."""


@dataclass(frozen=True)
class Missing:
    """One referenced object that is not there; `field` is where the spec refers to it."""

    kind: str
    name: str
    field: str

    @property
    def message(self) -> str:
        return f"{self.kind} {self.name!r} ({self.field}) does not exist"


def engine_missing(engine: engine_model.Engine, names: ObservedNames) -> list[Missing]:
    """The Engine's references that do not resolve, in a stable order."""
    spec, found = engine.spec, []
    if spec.worker_pool_ref and spec.worker_pool_ref.name not in names.worker_pools:
        found.append(Missing("WorkerPool", spec.worker_pool_ref.name, "spec.workerPoolRef"))
    if spec.config_ref and spec.config_ref.name not in names.config_maps:
        found.append(Missing("ConfigMap", spec.config_ref.name, "spec.configRef"))
    if spec.model_ref and spec.model_ref.name not in names.secrets:
        found.append(Missing("Secret", spec.model_ref.name, "spec.modelRef"))
    return found + _llm_keys(engine, names) + _credentials(names)


def _llm_keys(engine: engine_model.Engine, names: ObservedNames) -> list[Missing]:
    """spec.llm API keys whose Secret, or whose key in it, does not exist."""
    found: list[Missing] = []
    for path, ref in engine.spec.llm.secret_refs() if engine.spec.llm else ():
        if ref.name not in names.secrets:
            found.append(Missing("Secret", ref.name, path))
        elif names.secret_keys is not None and ref.key not in names.secret_keys.get(ref.name, ()):
            found.append(Missing("key", f"{ref.name}/{ref.key}", path))
    return found


def pool_missing(names: ObservedNames) -> list[Missing]:
    """A WorkerPool refers only to the tenant's credentials Secret."""
    return _credentials(names)


def _credentials(names: ObservedNames) -> list[Missing]:
    if pods.CREDENTIALS_SECRET in names.secrets:
        return []
    return [Missing("Secret", pods.CREDENTIALS_SECRET, "tenant credentials")]


def engine_blockers(engine: engine_model.Engine, names: ObservedNames) -> list[workload_status.Blocker]:
    """What keeps the Engine from Ready: missing references, then a pool that does not list the engine."""
    blockers = as_blockers(engine_missing(engine, names))
    served = _not_served(engine, names)
    return blockers + ([served] if served else [])


def as_blockers(missing: Sequence[Missing]) -> list[workload_status.Blocker]:
    return [workload_status.Blocker(workload_status.MISSING_REFERENCE, m.message) for m in missing]


def serves(pool_engines: Collection[str], engine: str) -> bool:
    """Whether a pool whose `spec.engines` is `pool_engines` runs the jobs of `engine`, an Engine whose
    workerPoolRef names the pool: an empty or absent list serves every such Engine (so naming the pool is
    enough, no second edit), a non-empty list is an allowlist."""
    return not pool_engines or engine in pool_engines


def _not_served(engine: engine_model.Engine, names: ObservedNames) -> workload_status.Blocker | None:
    ref = engine.spec.worker_pool_ref
    if ref is None or names.pool_engines is None or ref.name not in names.pool_engines:
        return None
    if serves(names.pool_engines[ref.name], engine.name):
        return None
    return workload_status.Blocker(
        NOT_SERVED,
        f"{pool_model.KIND} {ref.name!r} does not list engine {engine.name!r} in spec.engines (an "
        "allowlist when not empty): its workers would not run this engine's jobs",
    )
