"""Engine handlers: kopf bindings, the reconcile and the schedules, step by step.

create/update/resume and the periodic resync run the same idempotent reconcile: parse -> tenant -> references
(and the model's volume, `observe_model_volume`) -> build (ConfigMap, Deployment, Service) -> apply the diff
-> registry row -> observe the Deployment -> status. A second periodic step, only on Engines with schedules,
enqueues their due jobs (plan/schedules.py). Deletion runs behind kopf's finalizer: the children go by
garbage collection (owner references), the registry row here.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

import asyncpg
import kopf

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.builders import pods
from neuroedge_operator.clients import engine_store, postgres, queues
from neuroedge_operator.plan import (
    model_status,
    model_volumes,
    references,
    schedules,
    workload_reports,
    workload_status,
)
from neuroedge_operator.reconcile import binding, status, tenancy, workloads
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import conditions, report, workload
from neuroedge_operator.resources import engine as model
from neuroedge_operator.resources import workerpool as pool_model
from neuroedge_operator.settings import OperatorSettings

RESOURCE = (workload.GROUP, workload.VERSION, model.PLURAL)
TENANT_NOT_READY = "TenantNotReady"
log = logging.getLogger(__name__)


def register(registry: kopf.OperatorRegistry, jobs: binding.Jobs, settings: OperatorSettings) -> None:
    """Bind the Engine handlers into `registry` (reconcile, removal of the registry row behind the
    finalizer) and into `jobs` its resync and the schedule check of Engines with schedules."""
    binding.bind(registry, jobs, RESOURCE, model.KIND, settings=settings, reconcile=reconcile, remove=remove)
    binding.every(
        jobs,
        RESOURCE,
        model.KIND,
        run_schedules,
        interval=settings.schedule_interval,
        when=has_schedules,
        name="schedule",
    )


def has_schedules(body: Mapping[str, Any]) -> bool:
    """Whether the Engine declares schedules (only those get the periodic schedule check)."""
    return bool((body.get("spec") or {}).get("schedules"))


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> report.Report:
    """Bring one Engine's children and registry row in line with its spec; publish the outcome."""
    return await status.reconcile(ctx, body, model.KIND, _outcome)


async def _outcome(ctx: Context, body: Mapping[str, Any]) -> report.Report:
    try:
        engine = model.parse(body)
    except workload.InvalidResourceError as exc:
        return report.Report(conditions.invalid_workload_spec(str(exc)))
    tenant, why = await tenancy.tenant_of(ctx, engine.namespace)
    if tenant is None:
        return report.Report(conditions.workload_no_tenant(model.KIND, engine.namespace, why))
    names, referenced = await observe_references(ctx, engine)
    found_keys, api_keys = await observe_llm_keys(ctx, engine)
    names = dataclasses.replace(names, secrets=(*names.secrets, *found_keys), secret_keys=found_keys)
    blockers = references.engine_blockers(engine, names)
    missing_volume, unread = await observe_model_volume(ctx, engine)
    blockers += unread
    if not references.engine_missing(engine, names) and missing_volume is None and not unread:
        # A missing ConfigMap, Secret or model volume: build nothing yet (`observe_model_volume` says why).
        blockers += await converge(ctx, engine, tenant, referenced, api_keys)
    served = model_status.evaluate(engine, await _model_reports(ctx, engine, tenant), missing_volume)
    if served is not None and served.blocker is not None:
        blockers.append(served.blocker)
    observed = await workloads.observe(
        ctx, engine.namespace, engine_builder.name(engine), engine_builder.selector(engine)
    )
    evaluated = workload_status.evaluate(
        observed, engine_builder.replicas(engine), engine.spec.suspend, blockers
    )
    fields = workload_reports.engine_fields(engine, evaluated)
    if served is None:
        return report.Report(evaluated.conditions, fields)
    return report.Report([*evaluated.conditions, served.condition], {**fields, "model": served.model})


async def _model_reports(ctx: Context, engine: model.Engine, tenant: str) -> list[model_status.ModelReport]:
    """The runtime's load reports of the Engine's model (none while the database is unreachable: the model
    then shows as loading, and the next pass reads them)."""
    if engine.spec.model is None:
        return []
    try:
        return await engine_store.model_reports(ctx.db, tenant, engine.name)
    except (*postgres.UNREACHABLE, asyncpg.PostgresError) as exc:
        log.warning("model reports of %s/%s not read: %s", engine.namespace, engine.name, _describe(exc))
        return []


async def observe_references(
    ctx: Context, engine: model.Engine
) -> tuple[references.ObservedNames, dict[str, str]]:
    """The referenced objects that exist (read by name), and the data of the referenced ConfigMap."""
    spec, namespace = engine.spec, engine.namespace
    pools: dict[str, tuple[str, ...]] = {}
    if spec.worker_pool_ref is not None:
        found = await ctx.kube.get(
            workload.API_VERSION, pool_model.KIND, spec.worker_pool_ref.name, namespace
        )
        if found is not None:
            pools[spec.worker_pool_ref.name] = tuple((found.get("spec") or {}).get("engines") or ())
    config: dict[str, str] | None = None
    if spec.config_ref is not None:
        found = await ctx.kube.get("v1", "ConfigMap", spec.config_ref.name, namespace)
        config = {str(k): str(v) for k, v in ((found or {}).get("data") or {}).items()} if found else None
    secrets = [pods.CREDENTIALS_SECRET, *([spec.model_ref.name] if spec.model_ref else [])]
    names = references.ObservedNames(
        worker_pools=tuple(pools),
        config_maps=(spec.config_ref.name,) if spec.config_ref and config is not None else (),
        secrets=await workloads.existing_secrets(ctx, namespace, secrets),
        pool_engines=pools,
    )
    return names, config or {}


async def observe_model_volume(
    ctx: Context, engine: model.Engine
) -> tuple[model_volumes.Volume | None, list[workload_status.Blocker]]:
    """The claim or ConfigMap of a pvc:// or configmap:// model when it does not exist (else None), and a
    blocker when it could not be read (refused, unreachable: existence unknown, so nothing is built either).

    Why the Engine then holds its children as they are rather than rolling to pods that mount the missing
    volume: those pods would stay Pending (the scheduler or the kubelet cannot mount it) while the old ones
    keep serving, which is safe (maxUnavailable 0) but stalls the rollout until its deadline, leaves a
    ReplicaSet of stuck pods, and for a new Engine creates pods that never start. Holding also keeps the
    registry row on the previous model, which the running pods (and the pool's workers) have mounted: the
    previous good model keeps serving everywhere, and the status says which object to create. Once it exists
    the next pass (at once for a ConfigMap, which the operator watches; the resync at worst for a claim)
    applies the spec and the pods roll to the new model."""
    volume = model_volumes.of(engine.spec.model)
    if volume is None:
        return None, []
    try:
        found = await workloads.existing_volumes(ctx, engine.namespace, [volume])
    except workloads.UNREACHABLE_KUBE as exc:
        message = f"the model's {volume.kind} {volume.name!r} cannot be read: {_describe(exc)}"
        return None, [workload_status.Blocker(workloads.API_ERROR, message)]
    return (None if found else volume), []


def follow_model_maps(ctx: Context) -> None:
    """Reconcile the Engines whose model is on a ConfigMap when it is created or deleted (the operator
    watches every ConfigMap anyway): an Engine waiting for its model's ConfigMap recovers at once, not at its
    resync."""
    if ctx.watch_cache is None:
        return

    def changed(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        namespace, engines = workloads.model_maps_changed(ctx, old, new)
        for body in engines:
            name = body["metadata"]["name"]
            workloads.reconcile_live_soon(
                ctx,
                model.KIND,
                namespace,
                name,
                reconcile,
                why="the ConfigMap its model is on was created or deleted",
            )

    ctx.watch_cache.subscribe("v1", model_volumes.CONFIG_MAP, changed)


async def observe_llm_keys(
    ctx: Context, engine: model.Engine
) -> tuple[dict[str, tuple[str, ...]], dict[tuple[str, str], str]]:
    """For spec.llm: the data keys of each referenced Secret that exists, and the API keys they hold."""
    refs = [ref for _path, ref in engine.spec.llm.secret_refs()] if engine.spec.llm else []
    found: dict[str, tuple[str, ...]] = {}
    values: dict[tuple[str, str], str] = {}
    for name in dict.fromkeys(ref.name for ref in refs):
        secret = await ctx.kube.get("v1", "Secret", name, engine.namespace)
        if secret is not None:
            found[name] = tuple(str(key) for key in secret.get("data") or {})
            for ref in refs:
                encoded = (secret.get("data") or {}).get(ref.key) if ref.name == name else None
                if encoded is not None:
                    values[(name, ref.key)] = base64.b64decode(encoded).decode("utf-8", "replace").strip()
    return found, values


async def converge(
    ctx: Context,
    engine: model.Engine,
    tenant: str,
    referenced: Mapping[str, str],
    api_keys: Mapping[tuple[str, str], str] | None = None,
) -> list[workload_status.Blocker]:
    """Apply the children, then the registry row; what failed becomes a blocker (retried next pass)."""
    inputs = engine_builder.EngineInputs(
        tenant,
        ctx.settings.runtime_image,
        referenced,
        ctx.settings.runtime_resources,
        ctx.settings.runtime_tracing,
    )
    try:
        await workloads.apply(ctx, engine.meta, engine_builder.desired(engine, inputs), ())
    except workloads.UNREACHABLE_KUBE as exc:
        return [workloads.api_blocker(exc)]
    config = engine_builder.registry_config(engine, referenced, api_keys or {})
    try:
        await engine_store.register(
            ctx.db, tenant, engine.name, engine.spec.type, config, model=engine.spec.registry_model()
        )
    except asyncpg.ForeignKeyViolationError:
        return [workload_status.Blocker(TENANT_NOT_READY, f"tenant {tenant} has no registry row yet")]
    except (*postgres.UNREACHABLE, asyncpg.PostgresError) as exc:
        message = f"the engine registry row cannot be written: {_describe(exc)}"
        return [workload_status.Blocker("RegistryUnavailable", message)]
    return []


async def run_schedules(ctx: Context, body: Mapping[str, Any]) -> int:
    """Enqueue the Engine's due jobs and record them in status.lastSchedules; returns how many were
    enqueued. Reads the Engine afresh first: a watch copy from before the last pass would re-plan a due time
    already recorded (harmless, the queue deduplicates it, but a wasted round trip)."""
    meta = body["metadata"]
    async with ctx.lock(status.key(model.KIND, body)):
        fresh = await ctx.kube.get(workload.API_VERSION, model.KIND, meta["name"], meta["namespace"])
        if fresh is None or fresh["metadata"].get("deletionTimestamp"):
            return 0
        try:
            engine = model.parse(fresh)
        except workload.InvalidResourceError:
            return 0  # the reconcile reports it
        plan = schedules.plan(engine, status.now(), ctx.started)
        if not plan.jobs:
            return 0
        done = await _enqueue(ctx, fresh, engine, plan.jobs)
        if done:
            entries = schedules.recorded(engine, done)
            recorded = model.EngineStatus(last_schedules=entries).body()
            await ctx.kube.patch_status(
                workload.API_VERSION,
                model.KIND,
                engine.name,
                {"lastSchedules": recorded["lastSchedules"]},
                namespace=engine.namespace,
            )
        return len(done)


async def _enqueue(
    ctx: Context, body: Mapping[str, Any], engine: model.Engine, jobs: tuple[schedules.ScheduledJob, ...]
) -> list[tuple[schedules.ScheduledJob, str]]:
    """Enqueue each planned job on the pool's queue; a job that cannot be enqueued (no tenant, no pool yet,
    Redis down) stays unrecorded, so a later pass plans its due time again."""
    tenant, _why = await tenancy.tenant_of(ctx, engine.namespace)
    _names, referenced = await observe_references(ctx, engine)
    runs = queues.Engine(engine.name, engine.spec.type, engine_builder.effective_config(engine, referenced))
    done: list[tuple[schedules.ScheduledJob, str]] = []
    for job in jobs:
        pool = await ctx.kube.get(
            workload.API_VERSION, pool_model.KIND, job.pool, engine.namespace, fresh=True
        )
        if tenant is None or pool is None:
            continue
        try:
            job_id = await ctx.queues.enqueue(tenant, job.pool, runs, job.input, job.idempotency_key)
        except queues.UNREACHABLE as exc:
            log.warning("schedule %s of %s not enqueued: %s", job.schedule, status.name_of(body), exc)
            continue
        done.append((job, job_id))
        message = f"schedule {job.schedule}: job {job_id} for due time {workload.format_time(job.due)}"
        if job.missed or job.catch_up:
            message += f" (catch-up: run once, {job.missed} earlier due time(s) skipped)"
        await status.event(ctx, body, model.KIND, report.Notice("Normal", "ScheduledJobEnqueued", message))
    return done


async def remove(ctx: Context, body: Mapping[str, Any]) -> None:
    """Finalizer: remove the registry row (children are garbage-collected through their owner reference).
    Reads the Engine leniently: a spec or name that no longer validates must not keep it from going."""
    engine = workload.lenient_identity(model.KIND, body)
    async with ctx.lock(status.key(model.KIND, body)):
        tenant, _why = await tenancy.tenant_of(ctx, engine.namespace, deleting=True)
        if tenant is not None:
            try:
                await engine_store.unregister(ctx.db, tenant, engine.name)
            except (*postgres.UNREACHABLE, asyncpg.PostgresError) as exc:
                raise kopf.TemporaryError(
                    f"deletion of Engine {status.name_of(body)} waits for PostgreSQL: {_describe(exc)}",
                    delay=ctx.settings.resync_interval,
                ) from None
        ctx.engines.forget(status.name_of(body))


def _describe(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__)[:300]
