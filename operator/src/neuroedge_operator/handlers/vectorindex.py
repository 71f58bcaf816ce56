"""VectorIndex handlers: kopf bindings and the reconcile, step by step.

create/update/resume and a periodic timer run the same idempotent reconcile: the timer refreshes the point
count, recreates a collection or table deleted by hand (empty, with a Warning event) and retries what failed.
Deletion runs behind kopf's finalizer and honours the reclaim policy: `Delete` drops the storage, `Retain`
keeps it; both remove the registry row, so the runtime stops serving the index, and a VectorIndex created
again with the same name (same tenant, same layout) finds the retained data again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import kopf

from neuroedge_operator import metrics, tracing
from neuroedge_operator.builders import jwt_keys
from neuroedge_operator.builders import pgvector as pgvector_ddl
from neuroedge_operator.clients import kube, postgres, vector_store
from neuroedge_operator.plan import vectorindex as plan
from neuroedge_operator.reconcile import binding, tenancy
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import conditions
from neuroedge_operator.resources import vectorindex as model
from neuroedge_operator.settings import OperatorSettings

RESOURCE = (model.GROUP, model.VERSION, model.PLURAL)


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    """Bind the VectorIndex handlers into `registry`: reconcile (and point count) on the resync timer,
    removal behind the finalizer."""
    binding.bind(registry, RESOURCE, settings, reconcile, remove)


@dataclass(frozen=True)
class Outcome:
    """What a reconcile found and did: the conditions to publish and the status facts."""

    conditions: list[conditions.Condition]
    storage_name: str | None = None
    point_count: int | None = None
    recreated: bool = False
    actions: tuple[plan.Action, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.conditions if c.type == conditions.READY)


def _key(body: Mapping[str, Any]) -> str:
    return f"{body['metadata'].get('namespace', '')}/{body['metadata']['name']}"


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> Outcome:
    """Bring one VectorIndex's storage and registry row in line with its spec; publish the outcome."""
    async with ctx.lock(f"VectorIndex/{_key(body)}"):
        started, result = time.monotonic(), "error"
        try:
            outcome = await _outcome(ctx, body)
            await publish(ctx, body, outcome)
            result = "ready" if outcome.ready else "not_ready"
        finally:
            metrics.RECONCILES.labels(model.KIND, result).inc()
            metrics.RECONCILE_SECONDS.labels(model.KIND, result).observe(time.monotonic() - started)
            tracing.record_outcome(result)
        return outcome


def layout(tenant: str, index: model.VectorIndex) -> plan.Layout:
    """The desired storage layout of a parsed VectorIndex."""
    spec = index.spec
    return plan.Layout(
        tenant=tenant,
        name=index.name,
        storage_name=pgvector_ddl.storage_name(tenant, index.name),
        backend=spec.backend,
        dimension=spec.dimension,
        distance=spec.distance,
        m=spec.hnsw.m,
        ef_construct=spec.hnsw.ef_construct,
        on_disk=spec.on_disk,
        payload_indexes=frozenset(plan.PayloadIndex(p.field, p.type) for p in spec.payload_indexes),
    )


async def _outcome(ctx: Context, body: Mapping[str, Any]) -> Outcome:
    try:
        index = model.parse(body)
    except model.InvalidVectorIndexError as exc:
        return Outcome(conditions.invalid_vector_spec(str(exc)))
    tenant, why = await tenancy.tenant_of(ctx, index.namespace)
    if tenant is None:
        return Outcome([conditions.no_tenant(index.namespace, why)])
    backend = ctx.vectors.get(index.spec.backend)
    if backend is None:
        why = "not configured in this operator (NEUROEDGE_QDRANT_URL is empty)"
        return Outcome([conditions.backend_unavailable(index.spec.backend, why)])
    wanted = layout(tenant, index)
    try:
        return await converge(ctx, backend, wanted)
    except vector_store.BackendUnreachableError as exc:
        return Outcome([conditions.backend_unavailable(wanted.backend, _describe(exc))], wanted.storage_name)
    except postgres.UNREACHABLE as exc:
        why = f"PostgreSQL is unreachable: {_describe(exc)}"
        return Outcome([conditions.backend_unavailable(wanted.backend, why)], wanted.storage_name)
    except (vector_store.BackendError, asyncpg.PostgresError) as exc:
        return Outcome([conditions.backend_error(_describe(exc))], wanted.storage_name)


async def converge(ctx: Context, backend: vector_store.Backend, wanted: plan.Layout) -> Outcome:
    """Observe, plan, apply, count: the heart of the reconcile (errors propagate to `_outcome`)."""
    missing = await vector_store.tenant_missing(ctx.db, wanted.tenant)
    if missing is not None:
        return Outcome([conditions.tenant_not_provisioned(wanted.tenant, missing)])
    row = await vector_store.registered(ctx.db, wanted.tenant, wanted.name)
    storage = await backend.observe(wanted)
    decided = plan.plan(wanted, storage, row)
    if decided.divergences:
        count = await backend.count(wanted.storage_name) if storage is not None else None
        return Outcome(conditions.spec_diverged(decided.divergences), wanted.storage_name, count)
    await backend.apply(wanted, decided.storage_actions)
    if any(a.kind == "register" for a in decided.actions):
        await vector_store.register(ctx.db, wanted)
    return Outcome(
        [conditions.vector_ready(wanted.backend, wanted.storage_name), conditions.not_degraded()],
        wanted.storage_name,
        await backend.count(wanted.storage_name),
        recreated=decided.recreated,
        actions=decided.actions,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def new_status(
    ctx: Context, status: Mapping[str, Any], outcome: Outcome, merged: list[dict[str, Any]], generation: int
) -> dict[str, Any]:
    """The status fields to write: conditions, generation, storage name and (when stale) the count."""
    now = _now()
    wanted: dict[str, Any] = {"conditions": merged, "observedGeneration": generation}
    if outcome.storage_name:
        wanted["storageName"] = outcome.storage_name
    count = outcome.point_count
    if count is not None and plan.count_changed(
        status.get("pointCount"), count, bool(status.get("lastCountTime"))
    ):
        wanted["pointCount"] = count
        wanted["lastCountTime"] = jwt_keys.timestamp(now)
    return wanted


async def publish(ctx: Context, body: Mapping[str, Any], outcome: Outcome) -> None:
    """Events (drift recreation, condition transitions) and the status, written only when it changes."""
    meta = body["metadata"]
    status = body.get("status") or {}
    current = status.get("conditions") or []
    now = jwt_keys.timestamp(_now())
    generation = int(meta.get("generation") or 0)
    merged = conditions.merge(current, outcome.conditions, now, generation)
    ctx.vector_indexes.record(_key(body), merged)
    involved = {"apiVersion": model.API_VERSION, "kind": model.KIND, "metadata": meta}
    if outcome.recreated:
        message = (
            f"{outcome.storage_name} was registered but no longer existed (deleted outside the operator): "
            "recreated empty; its vectors must be ingested again"
        )
        await ctx.kube.event(involved, "Warning", "StorageRecreated", message, now)
    for cond in conditions.transitions(current, outcome.conditions):
        warning = not cond.ok if cond.type != conditions.DEGRADED else cond.ok
        await ctx.kube.event(
            involved, "Warning" if warning else "Normal", cond.reason, f"{cond.type}: {cond.message}", now
        )
    wanted = new_status(ctx, status, outcome, merged, generation)
    if all(status.get(k) == v for k, v in wanted.items()):
        return
    await ctx.kube.patch_status(
        model.API_VERSION, model.KIND, meta["name"], wanted, namespace=meta.get("namespace", "")
    )


async def remove(ctx: Context, body: Mapping[str, Any]) -> None:
    """Finalizer: drop the storage when the reclaim policy says Delete, then remove the registry row."""
    meta, spec = body["metadata"], body.get("spec") or {}
    async with ctx.lock(f"VectorIndex/{_key(body)}"):
        try:
            await _reclaim(ctx, body, meta, spec)
        except (
            vector_store.BackendError,
            kube.ApiError,
            *postgres.UNREACHABLE,
            asyncpg.PostgresError,
        ) as exc:
            await publish(ctx, body, Outcome([conditions.vector_deletion_blocked(_describe(exc))]))
            raise kopf.TemporaryError(
                f"deletion of VectorIndex {_key(body)} waits: {_describe(exc)}",
                delay=ctx.settings.resync_interval,
            ) from None
        ctx.vector_indexes.forget(_key(body))


async def _reclaim(
    ctx: Context, body: Mapping[str, Any], meta: Mapping[str, Any], spec: Mapping[str, Any]
) -> None:
    tenant, why = await tenancy.tenant_of(ctx, str(meta.get("namespace", "")), deleting=True)
    if tenant is None:  # nothing can be ours to remove: never guess another tenant's storage
        involved = {"apiVersion": model.API_VERSION, "kind": model.KIND, "metadata": meta}
        message = f"namespace {meta.get('namespace')} {why}: no storage or registry row was removed"
        await ctx.kube.event(involved, "Warning", "StorageLeft", message, jwt_keys.timestamp(_now()))
        return
    storage_name = pgvector_ddl.storage_name(tenant, str(meta["name"]))
    if spec.get("reclaimPolicy", "Retain") == "Delete":
        backend = ctx.vectors.get(str(spec.get("backend", "")))
        if backend is None:
            raise vector_store.BackendError(
                f"backend {spec.get('backend')} is not configured, so {storage_name} cannot be dropped; "
                "configure it, or set reclaimPolicy: Retain to keep the data and finish the deletion"
            )
        await backend.drop(storage_name)
    await vector_store.unregister(ctx.db, tenant, str(meta["name"]))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]
