"""Tenant handlers: kopf bindings and the reconcile, step by step.

create/update/resume and a periodic timer all run the same idempotent reconcile (the timer is the drift
repair and the retry loop); deletion runs the removal behind kopf's finalizer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import kopf

from neuroedge_operator import metrics, tracing
from neuroedge_operator.builders import jwt_keys, meta, namespaces, networkpolicy, quota, rbac, redis_acl, sql
from neuroedge_operator.builders import secret as secret_builder
from neuroedge_operator.clients import kube, postgres
from neuroedge_operator.clients import redis as redis_client
from neuroedge_operator.plan import database
from neuroedge_operator.plan import kubernetes as kube_plan
from neuroedge_operator.reconcile import binding
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.resources import conditions
from neuroedge_operator.resources import tenant as tenant_model
from neuroedge_operator.settings import OperatorSettings

API_VERSION = f"{tenant_model.GROUP}/{tenant_model.VERSION}"
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


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    """Bind the Tenant handlers into `registry`: reconcile, resync timer, removal behind the finalizer."""
    binding.bind(registry, RESOURCE, settings, reconcile, remove)


def _now() -> datetime:
    return datetime.now(UTC)


async def reconcile(ctx: Context, body: Mapping[str, Any]) -> None:
    """Bring one Tenant's world in line with its spec and publish the outcome as conditions."""
    name = body["metadata"]["name"]
    async with ctx.lock(name):
        started, outcome = time.monotonic(), "error"
        try:
            wanted, facts = await _wanted_conditions(ctx, body)
            await publish(ctx, body, wanted, facts)
            outcome = "ready" if all(c.ok for c in wanted) else "not_ready"
        finally:
            metrics.RECONCILES.labels("Tenant", outcome).inc()
            metrics.RECONCILE_SECONDS.labels("Tenant", outcome).observe(time.monotonic() - started)
            tracing.record_outcome(outcome)


Facts = dict[str, Any]


async def _wanted_conditions(
    ctx: Context, body: Mapping[str, Any]
) -> tuple[list[conditions.Condition], Facts]:
    try:
        tenant = tenant_model.parse(body)
    except tenant_model.InvalidTenantError as exc:
        return conditions.invalid_spec(str(exc)), {}
    if tenant.spec.suspend:
        return await suspend(ctx, tenant), {}
    parts, facts = await provision(ctx, tenant)
    return [conditions.summary(parts), *parts], facts


def status_facts(tenant: tenant_model.Tenant, creds: secret_builder.Credentials) -> Facts:
    """The non-condition status fields: what was provisioned, by name (never a secret)."""
    active = jwt_keys.active(creds.keyset)
    return {
        "namespaces": list(tenant.namespaces),
        "databaseRole": sql.role_name(tenant.name),
        "redisUser": redis_acl.user_name(tenant.name),
        "activeSigningKey": active["kid"],
        "lastKeyRotationTime": active["created_at"],
    }


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


def live_credentials(
    tenant: tenant_model.Tenant, live: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, str], str]:
    """Values and rotation marker of the tenant's live credentials Secret (first namespace that has one)."""
    secrets = {
        obj["metadata"]["namespace"]: obj
        for obj in live
        if obj["kind"] == "Secret" and obj["metadata"]["name"] == secret_builder.NAME
    }
    for name in tenant.namespaces:
        if name in secrets:
            annotations = secrets[name]["metadata"].get("annotations") or {}
            return secret_builder.decode(secrets[name]), annotations.get(
                secret_builder.ROTATED_FOR_ANNOTATION, ""
            )
    return {}, ""


def desired_children(
    ctx: Context, tenant: tenant_model.Tenant, creds: secret_builder.Credentials
) -> list[dict[str, Any]]:
    """Every child manifest, namespaces first (so that the namespaced ones have somewhere to go)."""
    settings = ctx.settings
    endpoints = secret_builder.Endpoints(
        settings.tenant_database_host, settings.tenant_database_name, settings.tenant_redis_host
    )
    objects: list[dict[str, Any] | None] = [namespaces.namespace(tenant, ns) for ns in tenant.namespaces]
    for ns in tenant.namespaces:
        objects += [
            quota.resource_quota(tenant, ns),
            quota.limit_range(tenant, ns),
            networkpolicy.isolation(tenant, ns, settings.platform_namespace_label)
            if tenant.spec.network_isolation
            else None,
            rbac.service_account(tenant, ns),
            rbac.role(tenant, ns),
            rbac.role_binding(tenant, ns),
            secret_builder.secret(tenant, ns, creds, endpoints),
        ]
    return [obj for obj in objects if obj is not None]


def registry_row(tenant: tenant_model.Tenant, suspended: bool) -> dict[str, object]:
    """The tenant's registry row (non-secret settings the runtime reads)."""
    spec = tenant.spec
    return {
        "suspended": suspended,
        "access_token_ttl_seconds": round(spec.auth.access_token_ttl),
        "refresh_token_ttl_seconds": round(spec.auth.refresh_token_ttl),
        "rate_limit_rps": float(spec.rate_limit.requests_per_second),
        "rate_limit_burst": spec.rate_limit.burst,
    }


async def provision(ctx: Context, tenant: tenant_model.Tenant) -> tuple[list[conditions.Condition], Facts]:
    """The four parts of a tenant, each reported as its own condition."""
    try:
        live = await observe_children(ctx, tenant.name)
        conflicts = await namespace_conflicts(ctx, tenant, live)
    except (kube.ApiError, OSError) as exc:
        return [conditions.kubernetes_error(str(exc)), *_waiting("the Kubernetes API did not answer")], {}
    if conflicts:
        return [conditions.namespace_conflict(conflicts), *_waiting("namespaces conflict")], {}
    values, rotated_for = live_credentials(tenant, live)
    creds = secret_builder.decide(
        tenant, values, rotated_for, _now(), jwt_keys.generate_key, ctx.settings.admin_email_domain
    )
    db_cond = await provision_database(ctx, tenant, creds, login=True)
    cache_cond = await provision_cache(ctx, tenant, creds, enabled=True)
    ns_cond, creds_cond = await apply_children(ctx, tenant, creds, live)
    return [ns_cond, db_cond, cache_cond, creds_cond], status_facts(tenant, creds)


def _waiting(why: str) -> list[conditions.Condition]:
    return [
        conditions.failed(kind, "Waiting", f"not provisioned: {why}")
        for kind in (conditions.DATABASE_READY, conditions.CACHE_READY, conditions.CREDENTIALS_READY)
    ]


async def provision_database(
    ctx: Context, tenant: tenant_model.Tenant, creds: secret_builder.Credentials, login: bool
) -> conditions.Condition:
    desired = database.Desired(tenant.name, creds.database_password, login, registry_row(tenant, not login))
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


async def apply_children(
    ctx: Context, tenant: tenant_model.Tenant, creds: secret_builder.Credentials, live: list[dict[str, Any]]
) -> tuple[conditions.Condition, conditions.Condition]:
    """Apply what differs, delete what is no longer wanted; (NamespacesReady, CredentialsReady)."""
    plan = kube_plan.diff(desired_children(ctx, tenant, creds), live)
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
    values, rotated_for = live_credentials(tenant, live)
    wanted = [conditions.suspended()]
    if not values:
        return wanted
    creds = secret_builder.decide(
        tenant, values, rotated_for, _now(), jwt_keys.generate_key, ctx.settings.admin_email_domain
    )
    db_cond = await provision_database(ctx, tenant, creds, login=False)
    cache_cond = await provision_cache(ctx, tenant, creds, enabled=False)
    return wanted + [c for c in (db_cond, cache_cond) if not c.ok]


async def publish(
    ctx: Context, body: Mapping[str, Any], wanted: Sequence[conditions.Condition], facts: Facts | None = None
) -> None:
    """Write the status (only when it changes) and one Event per condition transition."""
    meta_ = body["metadata"]
    status = body.get("status") or {}
    current = status.get("conditions") or []
    now = jwt_keys.timestamp(_now())
    generation = int(meta_.get("generation") or 0)
    merged = conditions.merge(current, wanted, now, generation)
    ctx.tenants.record(meta_["name"], merged)
    new_status = {**(facts or {}), "conditions": merged, "observedGeneration": generation}
    if all(status.get(k) == v for k, v in new_status.items()):
        return
    await ctx.kube.patch_status(API_VERSION, tenant_model.KIND, meta_["name"], new_status)
    involved = {"apiVersion": API_VERSION, "kind": tenant_model.KIND, "metadata": meta_}
    for cond in conditions.transitions(current, wanted):
        await ctx.kube.event(
            involved, "Normal" if cond.ok else "Warning", cond.reason, f"{cond.type}: {cond.message}", now
        )


async def remove(ctx: Context, body: Mapping[str, Any]) -> None:
    """Finalizer: database state per the reclaim policy, then the Redis user; retried while either is down."""
    name = body["metadata"]["name"]
    raw = ((body.get("spec") or {}).get("database") or {}).get("reclaimPolicy", "Retain")
    reclaim: Literal["Retain", "Delete"] = "Delete" if raw == "Delete" else "Retain"
    async with ctx.lock(name):
        try:
            await ctx.db.execute(database.plan_removal(name, await ctx.db.observe(name), reclaim))
            await ctx.cache.delete(name)
        except (*postgres.UNREACHABLE, *redis_client.UNREACHABLE, asyncpg.PostgresError) as exc:
            await publish(ctx, body, [conditions.deletion_blocked(_describe(exc))])
            raise kopf.TemporaryError(
                f"deletion of tenant {name} waits: {_describe(exc)}", delay=ctx.settings.resync_interval
            ) from None
        ctx.tenants.forget(name)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]
