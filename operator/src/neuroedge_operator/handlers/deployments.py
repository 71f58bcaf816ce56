"""Status follows the pods promptly: a watch on the Deployments we generate reconciles their owner when one
changes (a rollout finishing, replicas becoming available), instead of waiting for the periodic resync.

Only Deployments labelled `app.kubernetes.io/name=neuroedge-runtime` are watched (the operator's ClusterRole
already lists and watches Deployments). The owner is read afresh and reconciled under its lock; an idle
Deployment sends no events, so an idle cluster costs nothing here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from neuroedge_operator.builders import pods
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model
from neuroedge_operator.resources import workload

Reconcile = Callable[[Context, Mapping[str, Any]], Awaitable[object]]
OWNER_KINDS = (engine_model.KIND, pool_model.KIND)


def register(registry: kopf.OperatorRegistry, owners: Mapping[str, Reconcile]) -> None:
    """Bind the Deployment watch into `registry`; `owners` maps each owner kind (Engine, WorkerPool) to its
    reconcile. The composition root passes them in, so this handler never imports another handler."""
    missing = set(OWNER_KINDS) - set(owners)
    if missing:
        raise ValueError(f"no reconcile given for owner kinds {sorted(missing)}")
    labels = {"app.kubernetes.io/name": pods.APP_NAME}

    async def on_deployment(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        await reconcile_owner(memo.context, body, owners)

    kopf.on.event("apps", "v1", "deployments", labels=labels, registry=registry)(on_deployment)


def owner(child: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the Engine or WorkerPool controlling `child`, or None."""
    for ref in child.get("metadata", {}).get("ownerReferences") or []:
        if (
            ref.get("controller")
            and ref.get("apiVersion") == workload.API_VERSION
            and ref.get("kind") in OWNER_KINDS
        ):
            return str(ref["kind"]), str(ref["name"])
    return None


async def reconcile_owner(ctx: Context, child: Mapping[str, Any], owners: Mapping[str, Reconcile]) -> None:
    """Reconcile the live Engine or WorkerPool that controls `child` (read afresh; skipped while deleting)."""
    found = owner(child)
    namespace = str(child.get("metadata", {}).get("namespace", ""))
    if found is None or not namespace:
        return
    kind, name = found
    body = await ctx.kube.get(workload.API_VERSION, kind, name, namespace, fresh=True)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    await owners[kind](ctx, body)
