"""The one status path of every kind (Tenant, VectorIndex, Engine, WorkerPool): the reconcile wrapper and
the publisher, so that locking, metrics, status writes and Events follow the same rules everywhere.

Rules:
- One pass per object at a time: a pass runs under the object's lock (`key`), shared with its finalizer and
  its extra periodic steps (schedules, autoscaling).
- Status is written only when it differs from what the object already says (an idle operator writes
  nothing); observedGeneration is always the generation the pass read.
- Status first, then Events: an Event announces a transition the status already records, so a watcher that
  reads the object on an Event sees the state it announces, and a status write that fails announces nothing
  (the next pass retries the write and announces it then).
- Event severity comes from the condition type (`conditions.WARNING_WHEN`), never from the caller.
- Events are best effort, as Kubernetes' own recorders do: one that cannot be written is logged, and the
  pass goes on (its transition is recorded in status either way).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from neuroedge_operator import metrics, tracing
from neuroedge_operator.builders import jwt_keys
from neuroedge_operator.clients import kube
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import conditions, report, workload
from neuroedge_operator.resources import workerpool as pool_model

API_VERSION = workload.API_VERSION
"""Every kind is in neuroedge.io/v1alpha1."""
log = logging.getLogger(__name__)


class Reported(Protocol):
    """A pass's result: says what to publish given the status the object has now (a `report.Report` does,
    whatever the status; a VectorIndex outcome decides from it whether its point count is news)."""

    def report(self, status: Mapping[str, Any], now: datetime, /) -> report.Report: ...


R = TypeVar("R", bound=Reported)
Outcome = Callable[[Context, Mapping[str, Any]], Awaitable[R]]


def now() -> datetime:
    return datetime.now(UTC)


def name_of(body: Mapping[str, Any]) -> str:
    """`namespace/name`, or the name alone for a cluster-scoped object: the census key."""
    meta = body["metadata"]
    namespace = meta.get("namespace") or ""
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])


def key(kind: str, body: Mapping[str, Any]) -> str:
    """The lock key of an object: its kind and `namespace/name`."""
    return f"{kind}/{name_of(body)}"


async def reconcile(ctx: Context, body: Mapping[str, Any], kind: str, outcome: Outcome[R]) -> R:
    """One pass of any kind: under the object's lock, compute the outcome, publish it, and count and time
    the pass by result (ready, not_ready, or error when it raised)."""
    async with ctx.lock(key(kind, body)):
        started, result = time.monotonic(), "error"
        try:
            found = await outcome(ctx, body)
            published = await publish(ctx, body, kind, found)
            result = "ready" if published.ready else "not_ready"
        finally:
            metrics.RECONCILES.labels(kind, result).inc()
            metrics.RECONCILE_SECONDS.labels(kind, result).observe(time.monotonic() - started)
            tracing.record_outcome(result)
        return found


async def publish(ctx: Context, body: Mapping[str, Any], kind: str, outcome: Reported) -> report.Report:
    """Merge the outcome's conditions into the object's (keeping transition times), write the status when
    it changes, then one Event per condition transition and per notice. Returns the report published."""
    meta = body["metadata"]
    status = body.get("status") or {}
    current = status.get("conditions") or []
    moment = now()
    stamp = jwt_keys.timestamp(moment)
    generation = int(meta.get("generation") or 0)
    found = outcome.report(status, moment)
    merged = conditions.merge(current, found.conditions, stamp, generation)
    ctx.census(kind).record(name_of(body), merged)
    if "replicas" in found.fields:
        ctx.census(kind).record_replicas(
            name_of(body), int(found.fields["replicas"] or 0), max_replicas(kind, body)
        )
    new_status = {**found.fields, "conditions": merged, "observedGeneration": generation}
    if any(status.get(k) != v for k, v in new_status.items()):
        await ctx.kube.patch_status(
            API_VERSION, kind, meta["name"], new_status, namespace=meta.get("namespace") or ""
        )
    for cond in conditions.transitions(current, found.conditions):
        await event(ctx, body, kind, transition(cond))
    for notice in found.notices:
        await event(ctx, body, kind, notice)
    return found


def max_replicas(kind: str, body: Mapping[str, Any]) -> int:
    """What a workload may scale to: a WorkerPool's maxReplicas; an Engine does not scale, so its spec's
    replicas (the "pool at max replicas" alert compares the two)."""
    spec = body.get("spec") or {}
    if kind == pool_model.KIND:
        return int(spec.get("maxReplicas", pool_model.MAX_REPLICAS_DEFAULT))
    return int(spec.get("replicas", 1))


def transition(cond: conditions.Condition) -> report.Notice:
    """The Event announcing that `cond` now holds: its severity is the condition type's policy."""
    return report.Notice(conditions.severity(cond), cond.reason, f"{cond.type}: {cond.message}")


async def event(ctx: Context, body: Mapping[str, Any], kind: str, notice: report.Notice) -> None:
    """An Event about the object, best effort (see the module's rules)."""
    involved = {"apiVersion": API_VERSION, "kind": kind, "metadata": body["metadata"]}
    try:
        await ctx.kube.event(involved, notice.type, notice.reason, notice.message, jwt_keys.timestamp(now()))
    except (kube.ApiError, OSError) as exc:
        log.warning(
            "%s event %s about %s %s not recorded: %s", notice.type, notice.reason, kind, name_of(body), exc
        )
