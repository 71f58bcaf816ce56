"""VectorIndex handlers: kopf bindings and the reconcile, step by step.

create/update/resume and the periodic resync run the same idempotent reconcile: the resync refreshes the point
count, recreates a collection or table deleted by hand (empty, with a Warning event) and retries what failed.
Deletion runs behind kopf's finalizer and honours the reclaim policy: `Delete` drops the storage, `Retain`
keeps it; both remove the registry row, so the runtime stops serving the index, and a VectorIndex created
again with the same name (same tenant, same layout) finds the retained data again.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import asyncpg
import kopf

from neuroedge_operator.builders import pgvector as pgvector_ddl
from neuroedge_operator.builders import vectorindex as vector_builder
from neuroedge_operator.clients import kube, postgres, vector_store
from neuroedge_operator.plan import vectorindex as plan
from neuroedge_operator.plan import vectorindex_reports as reports
from neuroedge_operator.reconcile import binding, status, tenancy
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import conditions, report
from neuroedge_operator.resources import vectorindex as model
from neuroedge_operator.settings import OperatorSettings

RESOURCE = (model.GROUP, model.VERSION, model.PLURAL)
Outcome = reports.Outcome


def register(registry: kopf.OperatorRegistry, jobs: binding.Jobs, settings: OperatorSettings) -> None:
    """Bind the VectorIndex handlers into `registry` (reconcile, removal behind the finalizer) and its resync
    (which refreshes the point count) into `jobs`."""
    binding.bind(registry, jobs, RESOURCE, model.KIND, settings=settings, reconcile=reconcile, remove=remove)


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> Outcome:
    """Bring one VectorIndex's storage and registry row in line with its spec; publish the outcome."""
    return await status.reconcile(ctx, body, model.KIND, _outcome)


async def embedding_key(ctx: Context, index: model.VectorIndex) -> tuple[str | None, str]:
    """The API key of the index's external embedding provider (from its Secret), or None; and why it is
    missing when the Secret or its key does not exist."""
    ref = index.spec.embedding.api_key_secret_ref if index.spec.embedding else None
    if ref is None:
        return None, ""
    secret = await ctx.kube.get("v1", "Secret", ref.name, index.namespace)
    if secret is None:
        return None, f"spec.embedding.apiKeySecretRef: Secret {ref.name} does not exist in {index.namespace}"
    data = secret.get("data") or {}
    if ref.key not in data:
        return None, f"spec.embedding.apiKeySecretRef: Secret {ref.name} has no key {ref.key}"
    return base64.b64decode(data[ref.key]).decode().strip(), ""


async def _outcome(ctx: Context, body: Mapping[str, Any]) -> Outcome:
    try:
        index = model.parse(body)
    except model.InvalidVectorIndexError as exc:
        return Outcome(conditions.invalid_vector_spec(str(exc)))
    tenant, why = await tenancy.tenant_of(ctx, index.namespace)
    if tenant is None:
        return Outcome(conditions.no_tenant(index.namespace, why))
    mismatch = model.embedding_mismatch(index.spec)
    if mismatch is not None:
        return Outcome(conditions.embedding_mismatch(mismatch))
    api_key, missing = await embedding_key(ctx, index)
    if missing:
        return Outcome(conditions.embedding_secret_missing(missing))
    backend = ctx.vectors.get(index.spec.backend)
    if backend is None:
        why = "not configured in this operator (NEUROEDGE_QDRANT_URL is empty)"
        return Outcome(conditions.backend_unavailable(index.spec.backend, why))
    wanted = vector_builder.layout(tenant, index, api_key)
    try:
        return await converge(ctx, backend, wanted)
    except vector_store.BackendUnreachableError as exc:
        return Outcome(conditions.backend_unavailable(wanted.backend, _describe(exc)), wanted.storage_name)
    except postgres.UNREACHABLE as exc:
        why = f"PostgreSQL is unreachable: {_describe(exc)}"
        return Outcome(conditions.backend_unavailable(wanted.backend, why), wanted.storage_name)
    except (vector_store.BackendError, asyncpg.PostgresError) as exc:
        return Outcome(conditions.backend_error(_describe(exc)), wanted.storage_name)


async def converge(ctx: Context, backend: vector_store.Backend, wanted: plan.Layout) -> Outcome:
    """Observe, plan, apply, count: the heart of the reconcile (errors propagate to `_outcome`)."""
    missing = await vector_store.tenant_missing(ctx.db, wanted.tenant)
    if missing is not None:
        return Outcome(conditions.tenant_not_provisioned(wanted.tenant, missing))
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


async def remove(ctx: Context, body: Mapping[str, Any]) -> None:
    """Finalizer: drop the storage when the reclaim policy says Delete, then remove the registry row. Reads
    the VectorIndex leniently: a spec that no longer validates must not keep it from going."""
    index = model.parse_lenient(body)
    async with ctx.lock(status.key(model.KIND, body)):
        try:
            await _reclaim(ctx, body, index)
        except (
            vector_store.BackendError,
            kube.ApiError,
            *postgres.UNREACHABLE,
            asyncpg.PostgresError,
        ) as exc:
            blocked = report.Report(conditions.vector_deletion_blocked(_describe(exc)))
            await status.publish(ctx, body, model.KIND, blocked)
            raise kopf.TemporaryError(
                f"deletion of VectorIndex {status.name_of(body)} waits: {_describe(exc)}",
                delay=ctx.settings.resync_interval,
            ) from None
        ctx.vector_indexes.forget(status.name_of(body))


async def _reclaim(ctx: Context, body: Mapping[str, Any], index: model.Departing) -> None:
    tenant, why = await tenancy.tenant_of(ctx, index.namespace, deleting=True)
    if tenant is None:  # nothing can be ours to remove: never guess another tenant's storage
        message = f"namespace {index.namespace} {why}: no storage or registry row was removed"
        await status.event(ctx, body, model.KIND, report.Notice("Warning", "StorageLeft", message))
        return
    storage_name = pgvector_ddl.storage_name(tenant, index.name)
    if index.reclaim_policy == "Delete":
        backend = ctx.vectors.get(index.backend)
        if backend is None:
            raise vector_store.BackendError(
                f"backend {index.backend} is not configured, so {storage_name} cannot be dropped; "
                "configure it, or set reclaimPolicy: Retain to keep the data and finish the deletion"
            )
        await backend.drop(storage_name)
    await vector_store.unregister(ctx.db, tenant, index.name)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]
