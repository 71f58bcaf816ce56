"""Status follows the pods promptly: a watch on the Deployments we generate reconciles their owner when one
changes (a rollout finishing, replicas becoming available), instead of waiting for the resync timer.

Only Deployments labelled `app.kubernetes.io/name=neuroedge-runtime` are watched (the operator's ClusterRole
already lists and watches Deployments). The owner is read afresh and reconciled under its lock; an idle
Deployment sends no events, so an idle cluster costs nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from neuroedge_operator.builders import pods
from neuroedge_operator.handlers import engine, workerpool
from neuroedge_operator.handlers.context import Context
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model
from neuroedge_operator.resources import workload
from neuroedge_operator.settings import OperatorSettings

OWNERS = {engine_model.KIND: engine.reconcile, pool_model.KIND: workerpool.reconcile}


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    """Bind the Deployment watch into `registry`."""
    del settings  # no interval: the watch is event-driven
    labels = {"app.kubernetes.io/name": pods.APP_NAME}
    kopf.on.event("apps", "v1", "deployments", labels=labels, registry=registry)(on_deployment)


async def on_deployment(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await reconcile_owner(memo.context, body)


def owner(child: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the Engine or WorkerPool controlling `child`, or None."""
    for ref in child.get("metadata", {}).get("ownerReferences") or []:
        if (
            ref.get("controller")
            and ref.get("apiVersion") == workload.API_VERSION
            and ref.get("kind") in OWNERS
        ):
            return str(ref["kind"]), str(ref["name"])
    return None


async def reconcile_owner(ctx: Context, child: Mapping[str, Any]) -> None:
    found = owner(child)
    namespace = str(child.get("metadata", {}).get("namespace", ""))
    if found is None or not namespace:
        return
    kind, name = found
    body = await ctx.kube.get(workload.API_VERSION, kind, name, namespace)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return
    await OWNERS[kind](ctx, body)
