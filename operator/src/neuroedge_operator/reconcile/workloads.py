"""What the Engine and WorkerPool handlers share about their children: apply owned children through the
apply diff, observe a Deployment with its ReplicaSets and pods, read referenced Secrets by name. (Status is
published by `reconcile/status.py`, the same for every kind.)

Children are read back by name (a few GETs per pass, no cluster-wide watch on Deployments or pods): the
periodic resync plus the CR's own events bring status up to date, which is what `kubectl wait` needs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from neuroedge_operator.builders import meta
from neuroedge_operator.clients import kube
from neuroedge_operator.plan import kubernetes as kube_plan
from neuroedge_operator.plan import model_volumes, workload_status
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workload

log = logging.getLogger(__name__)
API_ERROR = "KubernetesError"
UNREACHABLE_KUBE = (kube.ApiError, OSError)


async def apply(
    ctx: Context,
    owner: workload.Identity,
    desired: Sequence[dict[str, Any]],
    optional: Sequence[kube_plan.Key],
) -> int:
    """Apply the desired children that differ from the live ones; delete those of `optional` (children the
    owner may have, such as KEDA objects) that exist, are controlled by `owner` and are no longer desired.
    Returns the number of writes (0 on an idle pass)."""
    live = []
    for api_version, kind, namespace, name in [*map(kube_plan.key, desired), *optional]:
        found = await ctx.kube.get(api_version, kind, name, namespace)
        if found is not None and _controlled_by(found, owner):
            live.append({**found, "apiVersion": api_version, "kind": kind})
    plan = kube_plan.diff(desired, live)
    ours = {kube_plan.key(obj) for obj in live if _owned_by(obj, owner)}
    deletions = [k for k in plan.delete if k in ours]  # never delete what we did not create
    for obj in plan.apply:
        await ctx.kube.apply(obj)
    for api_version, kind, namespace, name in deletions:
        await ctx.kube.delete(api_version, kind, name, namespace)
    return len(plan.apply) + len(deletions)


def _owned_by(obj: Mapping[str, Any], owner: workload.Identity) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(ref.get("uid") == owner.uid for ref in refs)


def _controlled_by(obj: Mapping[str, Any], owner: workload.Identity) -> bool:
    """Ours, or not owned by anyone (then the apply adopts it); never another controller's object."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    controllers = [ref for ref in refs if ref.get("controller")]
    return not controllers or any(ref.get("uid") == owner.uid for ref in controllers)


async def observe(
    ctx: Context, namespace: str, deployment: str, match: Mapping[str, str]
) -> workload_status.Observed:
    """The Deployment, and (while it exists) its ReplicaSets and pods, which name the reasons of failures.

    They are selected with our managed-by label as well (the pod template carries it): that is what the watch
    caches hold, so they answer. Without it every pass listed pods and ReplicaSets from the API server, two
    requests per workload per resync (600 a minute with 300 idle WorkerPools)."""
    found = await ctx.kube.get("apps/v1", "Deployment", deployment, namespace)
    if found is None:
        return workload_status.Observed(None)
    managed = {**match, meta.MANAGED_BY[0]: meta.MANAGED_BY[1]}
    selector = ",".join(f"{k}={v}" for k, v in sorted(managed.items()))
    replica_sets = await ctx.kube.list_in("apps/v1", "ReplicaSet", namespace, selector)
    pod_list = await ctx.kube.list_in("v1", "Pod", namespace, selector)
    return workload_status.Observed(found, pods=pod_list, replica_sets=replica_sets)


def api_blocker(exc: BaseException) -> workload_status.Blocker:
    """A write the API server refused (or could not take): shown as the reason the object is not Ready."""
    text = (str(exc).strip() or type(exc).__name__)[:300]
    return workload_status.Blocker(API_ERROR, f"applying the children failed: {text}")


async def existing_secrets(ctx: Context, namespace: str, names: Sequence[str]) -> tuple[str, ...]:
    """Which of `names` exist as Secrets in `namespace` (read by name: no list of every Secret)."""
    return tuple([n for n in dict.fromkeys(names) if await ctx.kube.get("v1", "Secret", n, namespace)])


async def existing_volumes(
    ctx: Context, namespace: str, volumes: Sequence[model_volumes.Volume]
) -> set[model_volumes.Volume]:
    """Which of the model volumes' claims and ConfigMaps exist in `namespace`, each read by name (a
    ConfigMap from the watch cache; a claim from the API server: `get` is all the operator may do on claims,
    and caching every claim of the cluster would cost memory for the few that hold models). A refused or
    failed read raises (`UNREACHABLE_KUBE`): absent is only what the server says is absent."""
    return {v for v in volumes if await ctx.kube.get("v1", v.kind, v.name, namespace) is not None}


def model_maps_changed(
    ctx: Context, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> tuple[str, list[dict[str, Any]]]:
    """For a ConfigMap the watch cache saw created or deleted: its namespace and the Engines there (from the
    Engines' cache, raw) whose model is on it; ("", []) for anything else, so that the watch of every
    ConfigMap of the cluster costs nothing but this check."""
    where = model_volumes.appeared_or_gone(old, new)
    if where is None or ctx.watch_cache is None:
        return "", []
    namespace, name = where
    engines = ctx.watch_cache.list(workload.API_VERSION, engine_model.KIND, "", namespace) or []
    named = set(model_volumes.naming(engines, model_volumes.Volume(model_volumes.CONFIG_MAP, name)))
    return namespace, [body for body in engines if body["metadata"]["name"] in named]


def reconcile_live_soon(
    ctx: Context,
    kind: str,
    namespace: str,
    name: str,
    reconcile: Callable[[Context, Mapping[str, Any]], Awaitable[object]],
    *,
    why: str,
) -> None:
    """Spawn `_reconcile_live` (a watch-cache listener cannot await): run `reconcile` on the live Engine or
    WorkerPool `namespace/name`; `why` names the task and goes in the log line."""
    ctx.spawn(
        _reconcile_live(ctx, kind, namespace, name, reconcile, why=why), f"{kind} {namespace}/{name}: {why}"
    )


async def _reconcile_live(
    ctx: Context,
    kind: str,
    namespace: str,
    name: str,
    reconcile: Callable[[Context, Mapping[str, Any]], Awaitable[object]],
    *,
    why: str,
) -> None:
    """The object read afresh from the API server (a watch event about something else brought us here, and
    the cache may lag it); nothing when it is absent or being deleted."""
    body = await ctx.kube.get(workload.API_VERSION, kind, name, namespace, fresh=True)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    log.info("%s %s/%s: %s", kind, namespace, name, why)
    await reconcile(ctx, body)
