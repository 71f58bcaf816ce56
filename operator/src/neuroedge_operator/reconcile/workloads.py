"""What the Engine and WorkerPool handlers share: apply owned children through the apply diff, observe a
Deployment with its ReplicaSets and pods, and publish conditions and status only when they change.

Children are read back by name (a few GETs per pass, no cluster-wide watch on Deployments or pods): the
resync timer plus the CR's own events bring status up to date, which is what `kubectl wait` needs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from neuroedge_operator import metrics, tracing
from neuroedge_operator.builders import jwt_keys
from neuroedge_operator.clients import kube
from neuroedge_operator.plan import kubernetes as kube_plan
from neuroedge_operator.plan import workload_status
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import conditions, workload
from neuroedge_operator.resources import workerpool as pool_model

API_ERROR = "KubernetesError"
UNREACHABLE_KUBE = (kube.ApiError, OSError)


def key(body: Mapping[str, Any]) -> str:
    meta = body["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def now() -> datetime:
    return datetime.now(UTC)


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
    """The Deployment, and (while it exists) its ReplicaSets and pods, which name the reasons of failures."""
    found = await ctx.kube.get("apps/v1", "Deployment", deployment, namespace)
    if found is None:
        return workload_status.Observed(None)
    selector = ",".join(f"{k}={v}" for k, v in sorted(match.items()))
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


Outcome = Callable[[Context, Mapping[str, Any]], Awaitable[tuple[list[conditions.Condition], dict[str, Any]]]]


async def reconcile(
    ctx: Context, body: Mapping[str, Any], kind: str, outcome: Outcome, census: metrics.ConditionCensus
) -> list[conditions.Condition]:
    """An Engine's or WorkerPool's reconcile: under the object's lock, compute the outcome (conditions and
    status fields), publish it, and count and time it by result."""
    async with ctx.lock(f"{kind}/{key(body)}"):
        started, result = time.monotonic(), "error"
        try:
            wanted, fields = await outcome(ctx, body)
            await publish(ctx, body, wanted, fields, census)
            _record_replicas(body, fields, census)
            result = "ready" if all(c.ok for c in wanted if c.type == conditions.READY) else "not_ready"
        finally:
            metrics.RECONCILES.labels(kind, result).inc()
            metrics.RECONCILE_SECONDS.labels(kind, result).observe(time.monotonic() - started)
            tracing.record_outcome(result)
        return wanted


def _record_replicas(
    body: Mapping[str, Any], fields: Mapping[str, Any], census: metrics.ConditionCensus
) -> None:
    """A WorkerPool's replicas beside its maxReplicas (an Engine does not scale: its maximum is its spec's
    replicas)."""
    spec = body.get("spec") or {}
    replicas = int(fields.get("replicas") or 0)
    if body.get("kind") == pool_model.KIND:
        maximum = spec.get("maxReplicas", pool_model.MAX_REPLICAS_DEFAULT)
    else:
        maximum = spec.get("replicas", 1)
    census.record_replicas(key(body), replicas, int(maximum))


async def publish(
    ctx: Context,
    body: Mapping[str, Any],
    wanted: Sequence[conditions.Condition],
    fields: Mapping[str, Any],
    census: metrics.ConditionCensus,
) -> None:
    """Events on condition transitions, then status (conditions merged, keeping transition times, plus
    `fields`), patched only when something differs from what the object already says."""
    meta = body["metadata"]
    status = body.get("status") or {}
    current = status.get("conditions") or []
    stamp = jwt_keys.timestamp(now())
    generation = int(meta.get("generation") or 0)
    merged = conditions.merge(current, wanted, stamp, generation)
    census.record(key(body), merged)
    involved = {"apiVersion": workload.API_VERSION, "kind": body.get("kind", ""), "metadata": meta}
    for cond in conditions.transitions(current, wanted):
        warning = cond.type == conditions.DEGRADED and cond.ok  # a rollout's Ready=False is no warning
        await ctx.kube.event(
            involved, "Warning" if warning else "Normal", cond.reason, f"{cond.type}: {cond.message}", stamp
        )
    new_status = {**fields, "conditions": merged}
    if all(status.get(k) == v for k, v in new_status.items()):
        return
    await ctx.kube.patch_status(
        workload.API_VERSION, str(body.get("kind", "")), meta["name"], new_status, namespace=meta["namespace"]
    )


async def event(ctx: Context, body: Mapping[str, Any], kind: str, reason: str, message: str) -> None:
    involved = {
        "apiVersion": workload.API_VERSION,
        "kind": body.get("kind", ""),
        "metadata": body["metadata"],
    }
    await ctx.kube.event(involved, kind, reason, message, jwt_keys.timestamp(now()))
