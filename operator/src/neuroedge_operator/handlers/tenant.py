"""Tenant handlers: kopf bindings and the reconcile, step by step.

create/update/resume and the periodic resync all run the same idempotent reconcile (the resync is the drift
repair and the retry loop); deletion runs the removal behind kopf's finalizer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import kopf

from neuroedge_operator.builders import jwt_keys, meta
from neuroedge_operator.builders import secret as secret_builder
from neuroedge_operator.builders import tenant as tenant_builder
from neuroedge_operator.clients import kube, postgres
from neuroedge_operator.clients import redis as redis_client
from neuroedge_operator.plan import database
from neuroedge_operator.plan import kubernetes as kube_plan
from neuroedge_operator.reconcile import binding, status, tenancy
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import conditions, report
from neuroedge_operator.resources import tenant as tenant_model
from neuroedge_operator.settings import OperatorSettings

CHILD_KINDS = (
    ("v1", "Namespace"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("v1", "Secret"),
)
RESOURCE = (tenant_model.GROUP, tenant_model.VERSION, tenant_model.PLURAL)
KIND = tenant_model.KIND
WORKLOADS_POLL_SECONDS = 2.0
"""How often a deleting Tenant looks again whether its workloads are gone (their finalizers take seconds)."""


def register(registry: kopf.OperatorRegistry, jobs: binding.Jobs, settings: OperatorSettings) -> None:
    """Bind the Tenant handlers into `registry` (reconcile, removal behind the finalizer) and its resync into
    `jobs`."""
    binding.bind(registry, jobs, RESOURCE, KIND, settings=settings, reconcile=reconcile, remove=remove)


def _now() -> datetime:
    return datetime.now(UTC)


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> report.Report:
    """Bring one Tenant's world in line with its spec and publish the outcome as conditions."""
    return await status.reconcile(ctx, body, KIND, _outcome)


async def _outcome(ctx: Context, body: Mapping[str, Any]) -> report.Report:
    try:
        tenant = tenant_model.parse(body)
    except tenant_model.InvalidTenantError as exc:
        return report.Report(conditions.invalid_spec(str(exc)))
    if tenant.spec.suspend:
        return report.Report(await suspend(ctx, tenant))
    parts, facts = await provision(ctx, tenant)
    return report.Report([conditions.summary(parts), *parts], facts)


async def observe_children(ctx: Context, tenant: str) -> list[dict[str, Any]]:
    """Every live object labelled as a child of `tenant`, except those another kind controls (an Engine's
    or a WorkerPool's children carry the tenant's labels as well)."""
    found: list[dict[str, Any]] = []
    for api_version, kind in CHILD_KINDS:
        found.extend(await ctx.kube.list(api_version, kind, meta.selector(tenant)))
    return [obj for obj in found if not kube_plan.controlled_by_other_kind(obj, tenant_model.KIND)]


async def namespace_conflicts(
    ctx: Context, tenant: tenant_model.Tenant, live: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Desired namespaces that exist but are not this tenant's: they are never adopted. A namespace is ours
    when it carries our label, or our owner reference (someone stripped the label: we put it back)."""
    ours = {obj["metadata"]["name"] for obj in live if obj["kind"] == "Namespace"}
    conflicts = []
    for name in tenant.namespaces:
        if name in ours:
            continue
        found = await ctx.kube.get("v1", "Namespace", name)
        owners = (found or {}).get("metadata", {}).get("ownerReferences") or []
        if found is not None and not any(ref.get("uid") == tenant.uid for ref in owners):
            conflicts.append(name)
    return conflicts


async def provision(
    ctx: Context, tenant: tenant_model.Tenant
) -> tuple[list[conditions.Condition], dict[str, Any]]:
    """The four parts of a tenant, each reported as its own condition."""
    try:
        live = await observe_children(ctx, tenant.name)
        conflicts = await namespace_conflicts(ctx, tenant, live)
    except (kube.ApiError, OSError) as exc:
        why = "the Kubernetes API did not answer"
        return [conditions.kubernetes_error(str(exc)), *conditions.tenant_parts_waiting(why)], {}
    if conflicts:
        return [
            conditions.namespace_conflict(conflicts),
            *conditions.tenant_parts_waiting("namespaces conflict"),
        ], {}
    values, rotated_for = tenant_builder.live_credentials(tenant, live)
    creds = secret_builder.decide(
        tenant, values, rotated_for, _now(), jwt_keys.generate_key, ctx.settings.admin_email_domain
    )
    db_cond = await provision_database(ctx, tenant, creds, login=True)
    cache_cond = await provision_cache(ctx, tenant, creds, enabled=True)
    ns_cond, creds_cond = await apply_children(ctx, tenant, creds, live)
    return [ns_cond, db_cond, cache_cond, creds_cond], tenant_builder.status_facts(tenant, creds)


async def provision_database(
    ctx: Context, tenant: tenant_model.Tenant, creds: secret_builder.Credentials, login: bool
) -> conditions.Condition:
    desired = database.Desired(
        tenant.name, creds.database_password, login, tenant_builder.registry_row(tenant, not login)
    )
    try:
        await ctx.db.execute(database.plan(desired, await ctx.db.observe(tenant.name)))
    except postgres.UNREACHABLE as exc:
        return conditions.database_unreachable(_describe(exc))
    except asyncpg.PostgresError as exc:
        return conditions.database_error(_describe(exc))
    return conditions.database_ready()


async def provision_cache(
    ctx: Context, tenant: tenant_model.Tenant, creds: secret_builder.Credentials, enabled: bool
) -> conditions.Condition:
    try:
        await ctx.cache.ensure(tenant.name, creds.redis_password, enabled)
    except redis_client.UNREACHABLE as exc:
        return conditions.cache_unreachable(_describe(exc))
    return conditions.cache_ready()


def inputs(settings: OperatorSettings) -> tenant_builder.Inputs:
    """The children's inputs from the operator settings."""
    endpoints = secret_builder.Endpoints(
        settings.tenant_database_host, settings.tenant_database_name, settings.tenant_redis_host
    )
    return tenant_builder.Inputs(endpoints, settings.platform_namespace_label)


async def apply_children(
    ctx: Context, tenant: tenant_model.Tenant, creds: secret_builder.Credentials, live: list[dict[str, Any]]
) -> tuple[conditions.Condition, conditions.Condition]:
    """Apply what differs, delete what is no longer wanted; (NamespacesReady, CredentialsReady)."""
    plan = kube_plan.diff(tenant_builder.children(tenant, creds, inputs(ctx.settings)), live)
    try:
        for obj in plan.apply:
            await ctx.kube.apply(obj)
        for api_version, kind, namespace, name in plan.delete:
            await ctx.kube.delete(api_version, kind, name, namespace)
    except (kube.ApiError, OSError) as exc:
        error = _describe(exc)
        return conditions.kubernetes_error(error), conditions.credentials_pending(f"not published: {error}")
    return conditions.namespaces_ready(len(tenant.namespaces)), conditions.credentials_ready(
        creds.keyset["active"]
    )


async def suspend(ctx: Context, tenant: tenant_model.Tenant) -> list[conditions.Condition]:
    """Disable the database and Redis logins, keep everything else as it is."""
    live = await ctx.kube.list("v1", "Secret", meta.selector(tenant.name))
    values, rotated_for = tenant_builder.live_credentials(tenant, live)
    wanted = [conditions.suspended()]
    if not values:
        return wanted
    creds = secret_builder.decide(
        tenant, values, rotated_for, _now(), jwt_keys.generate_key, ctx.settings.admin_email_domain
    )
    db_cond = await provision_database(ctx, tenant, creds, login=False)
    cache_cond = await provision_cache(ctx, tenant, creds, enabled=False)
    return wanted + [c for c in (db_cond, cache_cond) if not c.ok]


async def remove(ctx: Context, body: Mapping[str, Any]) -> None:
    """Finalizer: database state per the reclaim policy, then the Redis user; retried while either is down
    (the part that waits says so, with Ready). Reads the Tenant leniently: a spec that no longer validates
    must not keep it from going."""
    tenant = tenant_model.parse_lenient(body)
    async with ctx.lock(status.key(KIND, body)):
        left = await tenancy.remove_workloads(ctx, tenant.name)
        if left:
            waiting = report.Report(conditions.deletion_waits_for_workloads(left))
            await status.publish(ctx, body, KIND, waiting)
            raise kopf.TemporaryError(
                f"deletion of tenant {tenant.name} waits for {left} Engine(s), WorkerPool(s) and "
                "VectorIndex(es) in its namespaces to be removed first",
                delay=WORKLOADS_POLL_SECONDS,
            )
        try:
            part = conditions.DATABASE_READY
            await ctx.db.execute(
                database.plan_removal(tenant.name, await ctx.db.observe(tenant.name), tenant.reclaim_policy)
            )
            part = conditions.CACHE_READY
            await ctx.cache.delete(tenant.name)
        except (*postgres.UNREACHABLE, *redis_client.UNREACHABLE, asyncpg.PostgresError) as exc:
            blocked = report.Report(conditions.deletion_blocked(part, _describe(exc)))
            await status.publish(ctx, body, KIND, blocked)
            raise kopf.TemporaryError(
                f"deletion of tenant {tenant.name} waits: {_describe(exc)}",
                delay=ctx.settings.resync_interval,
            ) from None
        ctx.tenants.forget(status.name_of(body))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]
