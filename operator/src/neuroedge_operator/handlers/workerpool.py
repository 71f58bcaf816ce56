"""WorkerPool handlers: kopf bindings, the reconcile and the autoscaler, step by step.

create/update/resume and the periodic resync run the same idempotent reconcile: parse -> tenant -> credentials
-> queue (consumer group created, figures read) -> build (Deployment, PodDisruptionBudget, KEDA objects) ->
apply the diff -> observe the Deployment -> status. A second periodic step, only on autoscaled pools, reads
the backlog, decides (plan/autoscale.py) and writes a changed size through /scale, as `kubectl scale` or KEDA
would; the Deployment follows spec.replicas (the replicas rule in builders/workerpool.py). Deletion needs no
finalizer: every child is garbage-collected through its owner reference, and the queue's data is the tenant's.

The pods also mount the volume models of the Engines the pool serves (plan/pool_models.py), read from the
Engines' watch cache; that cache tells `follow_engines` of every Engine change, and a change that concerns a
pool (its volume model, its pool, its deletion) reconciles that pool at once. A volume whose claim or
ConfigMap does not exist is left out (its pods would stay Pending); a model ConfigMap created or deleted
reconciles the pools of the Engines on it (`follow_model_maps`), a claim is seen on the next pass.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from neuroedge_operator.builders import pods
from neuroedge_operator.builders import workerpool as pool_builder
from neuroedge_operator.plan import (
    autoscale,
    model_volumes,
    pool_models,
    references,
    workload_reports,
    workload_status,
)
from neuroedge_operator.reconcile import binding, status, tenancy, workloads
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import conditions, report, workload
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as model
from neuroedge_operator.settings import OperatorSettings

RESOURCE = (workload.GROUP, workload.VERSION, model.PLURAL)
log = logging.getLogger(__name__)


def register(registry: kopf.OperatorRegistry, jobs: binding.Jobs, settings: OperatorSettings) -> None:
    """Bind the WorkerPool handlers into `registry` (reconcile; no finalizer: children go by garbage
    collection) and into `jobs` its resync and the autoscaler of pools that autoscale."""
    binding.bind(registry, jobs, RESOURCE, model.KIND, settings=settings, reconcile=reconcile)
    binding.every(
        jobs,
        RESOURCE,
        model.KIND,
        autoscale_pool,
        interval=settings.autoscale_interval,
        when=autoscaled,
        name="autoscale",
    )


def autoscaled(body: Mapping[str, Any]) -> bool:
    """Whether the pool autoscales (only those get the periodic autoscale step)."""
    spec = body.get("spec") or {}
    return bool((spec.get("autoscaling") or {}).get("enabled"))


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> report.Report:
    """Bring one WorkerPool's children in line with its spec; publish the outcome."""
    return await status.reconcile(ctx, body, model.KIND, _outcome)


async def _outcome(ctx: Context, body: Mapping[str, Any]) -> report.Report:
    try:
        pool = model.parse(body)
    except workload.InvalidResourceError as exc:
        return report.Report(conditions.invalid_workload_spec(str(exc)))
    tenant, why = await tenancy.tenant_of(ctx, pool.namespace)
    if tenant is None:
        return report.Report(conditions.workload_no_tenant(model.KIND, pool.namespace, why))
    secrets = await workloads.existing_secrets(ctx, pool.namespace, [pods.CREDENTIALS_SECRET])
    missing = references.pool_missing(references.ObservedNames(secrets=secrets))
    queue = await ctx.queues.observe(tenant, pool.name)
    blockers = [*references.as_blockers(missing), *workload_reports.queue_blockers(queue)]
    keda = await ctx.keda_installed() if pool.spec.autoscaling.keda else False
    if not missing:
        blockers += await converge(ctx, pool, tenant, keda)
    observed = await workloads.observe(
        ctx, pool.namespace, pool_builder.name(pool), pool_builder.selector(pool)
    )
    wanted = pool_builder.deployment_replicas(pool)
    evaluated = workload_status.evaluate(observed, wanted, pool.spec.suspend, blockers)
    autoscaling = workload_reports.autoscaling(pool, keda)
    fields = workload_reports.pool_fields(pool, evaluated, queue)
    return report.Report([*evaluated.conditions, autoscaling], fields)


async def converge(
    ctx: Context, pool: model.WorkerPool, tenant: str, keda_installed: bool
) -> list[workload_status.Blocker]:
    """Apply the Deployment, the PodDisruptionBudget and (with KEDA) its objects; remove KEDA objects no
    longer wanted. An API refusal becomes a blocker, retried on the next pass."""
    try:
        inputs = pool_builder.PoolInputs(
            tenant,
            ctx.settings.runtime_image,
            pool_builder.deployment_replicas(pool),
            ctx.settings.runtime_resources,
            ctx.settings.runtime_tracing,
            await served_models(ctx, pool),
        )
        redis_url = (
            await tenant_redis_url(ctx, pool.namespace)
            if pool_builder.uses_keda(pool, keda_installed)
            else None
        )
        desired = pool_builder.desired(pool, inputs, keda_installed, redis_url)
        optional = pool_builder.keda_keys(pool) if keda_installed else ()
        await workloads.apply(ctx, pool.meta, desired, optional)
    except pool_builder.InvalidRedisUrlError as exc:
        return [workload_status.Blocker("InvalidCredentials", f"the tenant's REDIS_URL is unusable: {exc}")]
    except workloads.UNREACHABLE_KUBE as exc:
        return [workloads.api_blocker(exc)]
    return []


async def served_models(ctx: Context, pool: model.WorkerPool) -> list[pool_builder.ServedModel]:
    """The volume models of the Engines the pool serves, from the Engines of its namespace (listed from the
    watch cache: no request on an idle pass), whose claim or ConfigMap exists (each read by name: a
    ConfigMap from the cache, a claim from the API server, only for pools that serve claim models); for an
    Engine whose volume is missing, the model the live pods were started with (its Deployment, cached)."""
    engines = await ctx.kube.list_in(workload.API_VERSION, engine_model.KIND, pool.namespace, "")
    found = [f for f in map(engine_facts, engines) if f is not None]
    if not any(f.model is not None for f in found):
        return []
    live = await ctx.kube.get("apps/v1", "Deployment", pool_builder.name(pool), pool.namespace)
    previous = pool_models.started_models(live)
    wanted = pool_models.wanted_volumes(pool, found, previous)
    existing = await workloads.existing_volumes(ctx, pool.namespace, wanted) if wanted else set()
    return pool_models.served_models(pool, found, existing, previous)


def engine_facts(body: Mapping[str, Any] | None) -> pool_models.EngineFacts | None:
    """What of an Engine's body concerns its pool (None: absent, or a spec its own reconcile refuses)."""
    if body is None:
        return None
    try:
        engine = engine_model.parse(body)
    except workload.InvalidResourceError:
        return None
    return pool_models.facts(engine, deleting=bool(body["metadata"].get("deletionTimestamp")))


def follow_engines(ctx: Context) -> None:
    """Reconcile a pool when a change of an Engine concerns its pods: the Engines' watch cache calls us once
    it holds the change (so the pass reads it), and only a change of what the pool mounts costs anything."""
    if ctx.watch_cache is None:
        return

    def changed(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        for namespace, name in pool_models.affected_pools(engine_facts(old), engine_facts(new)):
            workloads.reconcile_live_soon(
                ctx,
                model.KIND,
                namespace,
                name,
                reconcile,
                why="an Engine it serves changed its pool or model",
            )

    ctx.watch_cache.subscribe(workload.API_VERSION, engine_model.KIND, changed)


def follow_model_maps(ctx: Context) -> None:
    """Reconcile the pools of the Engines whose model is on a ConfigMap when it is created or deleted: the
    pool mounts it once it exists, and unmounts it when it is gone (its new pods could not start)."""
    if ctx.watch_cache is None:
        return

    def changed(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        _namespace, engines = workloads.model_maps_changed(ctx, old, new)
        pools = {pair for body in engines for pair in pool_models.affected_pools(None, engine_facts(body))}
        for namespace, name in sorted(pools):
            workloads.reconcile_live_soon(
                ctx, model.KIND, namespace, name, reconcile, why="a ConfigMap an Engine's model is on changed"
            )

    ctx.watch_cache.subscribe("v1", model_volumes.CONFIG_MAP, changed)


async def tenant_redis_url(ctx: Context, namespace: str) -> str | None:
    """The tenant's REDIS_URL from its credentials Secret (KEDA connects as the tenant, not as admin)."""
    secret = await ctx.kube.get("v1", "Secret", pods.CREDENTIALS_SECRET, namespace)
    encoded = ((secret or {}).get("data") or {}).get("REDIS_URL")
    return base64.b64decode(encoded).decode() if encoded else None


async def autoscale_pool(ctx: Context, body: Mapping[str, Any]) -> autoscale.Decision | None:
    """Read the backlog, decide, and write a changed size through /scale (then reconcile, so the
    Deployment follows at once); returns the decision (None when the operator does not scale this pool)."""
    meta = body["metadata"]
    async with ctx.lock(status.key(model.KIND, body)):
        fresh = await ctx.kube.get(
            workload.API_VERSION, model.KIND, meta["name"], meta["namespace"], fresh=True
        )
        decision = await _decide(ctx, fresh) if fresh is not None else None
        if fresh is None or decision is None:
            return decision
        pool = model.parse(fresh)
        current = pool.spec.desired_replicas
        if not decision.changes(current):
            return decision
        await ctx.kube.patch_scale(
            workload.API_VERSION, model.KIND, pool.name, decision.replicas, pool.namespace
        )
        stamp = workload.format_time(status.now())
        await ctx.kube.patch_status(
            workload.API_VERSION, model.KIND, pool.name, {"lastScaleTime": stamp}, namespace=pool.namespace
        )
        await status.event(ctx, fresh, model.KIND, report.Notice("Normal", decision.reason, decision.message))
    scaled = await ctx.kube.get(workload.API_VERSION, model.KIND, meta["name"], meta["namespace"], fresh=True)
    if scaled is not None:
        await reconcile(ctx, scaled)
    return decision


async def _decide(ctx: Context, body: Mapping[str, Any]) -> autoscale.Decision | None:
    if body["metadata"].get("deletionTimestamp"):
        return None
    try:
        pool = model.parse(body)
    except workload.InvalidResourceError:
        return None  # the reconcile reports it
    keda = await ctx.keda_installed() if pool.spec.autoscaling.keda else False
    tenant, _why = await tenancy.tenant_of(ctx, pool.namespace)
    if tenant is None or pool.spec.suspend or not pool.spec.autoscaling.enabled:
        return None
    queue = await ctx.queues.observe(tenant, pool.name)
    if queue.figures is None:
        return None  # Redis unreadable: keep the size; the reconcile reports QueueUnavailable
    figures = queue.figures
    return autoscale.for_pool(
        pool,
        pool.spec.desired_replicas,
        lag=figures.lag,
        pending=figures.pending,
        now=status.now(),
        keda_installed=keda,
    )
