"""OperatorSettings: every knob of the operator, read once from the environment at the entry point.

Nothing else reads the environment: handlers and clients get the settings object passed to them, so a test
can build one with other values and no module behaves differently depending on when it was imported.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import pydantic

from neuroedge_operator import tracing
from neuroedge_operator.plan import leadership
from neuroedge_operator.resources import workload
from neuroedge_queue import telemetry


class SettingsError(ValueError):
    """A missing or malformed environment variable, named in the message."""


@dataclass(frozen=True)
class OperatorSettings:
    """The operator's configuration (see docs/architecture.md for the variable names)."""

    database_url: str
    """NEUROEDGE_DATABASE_URL: admin DSN (a superuser or a role with CREATEROLE and BYPASSRLS)."""
    redis_url: str
    """NEUROEDGE_REDIS_URL: admin URL of Redis (may run ACL SETUSER/DELUSER)."""
    tenant_database_host: str
    """NEUROEDGE_TENANT_DATABASE_HOST: host:port written into tenants' DATABASE_URL (default: admin DSN's)."""
    tenant_database_name: str
    """NEUROEDGE_TENANT_DATABASE_NAME: database in tenants' DATABASE_URL (default: admin DSN's)."""
    tenant_redis_host: str
    """NEUROEDGE_TENANT_REDIS_HOST: host:port written into tenants' REDIS_URL (default: admin URL's)."""
    qdrant_url: str = ""
    """NEUROEDGE_QDRANT_URL."""
    qdrant_api_key: str = ""
    """NEUROEDGE_QDRANT_API_KEY."""
    runtime_image: str = "neuroedge/runtime:latest"
    """NEUROEDGE_RUNTIME_IMAGE."""
    runtime_resources: workload.Resources | None = None
    """NEUROEDGE_RUNTIME_RESOURCES: JSON `{"requests": {...}, "limits": {...}}`, the runtime container's
    resources when an Engine or WorkerPool sets none (unset: the namespace's LimitRange decides)."""
    runtime_tracing: tuple[tuple[str, str], ...] = ()
    """The operator's own OTEL_* configuration as the runtime pods of Engines and WorkerPools inherit it
    (`tracing.runtime_env`); empty when the operator does not trace."""
    watch_namespaces: tuple[str, ...] = ()
    """NEUROEDGE_WATCH_NAMESPACES: comma-separated; empty means the whole cluster."""
    metrics_port: int = 9090
    """NEUROEDGE_METRICS_PORT: Prometheus `/metrics`; 0 disables it."""
    health_port: int = 8080
    """NEUROEDGE_HEALTH_PORT: kopf liveness endpoint `/healthz`; 0 disables it."""
    log_level: str = "INFO"
    """NEUROEDGE_LOG_LEVEL."""
    resync_interval: float = 60.0
    """NEUROEDGE_RESYNC_INTERVAL: seconds between drift-repair passes over each object."""
    autoscale_interval: float = 15.0
    """NEUROEDGE_AUTOSCALE_INTERVAL: seconds between reads of each autoscaled WorkerPool's backlog."""
    schedule_interval: float = 10.0
    """NEUROEDGE_SCHEDULE_INTERVAL: seconds between checks of each Engine's cron schedules (a due time is
    enqueued at most this late)."""
    keda_check_interval: float = 60.0
    """NEUROEDGE_KEDA_CHECK_INTERVAL: seconds a "is KEDA installed?" answer is cached."""
    watch_server_timeout: int = 300
    """NEUROEDGE_WATCH_TIMEOUT: server-side watch timeout, so that a watch never goes silent forever."""
    platform_namespace_label: str = "neuroedge.io/platform"
    """Label (value "true") of the platform's namespaces, allowed through tenants' NetworkPolicies."""
    admin_email_domain: str = "neuroedge.local"
    """NEUROEDGE_ADMIN_EMAIL_DOMAIN: a tenant's first admin is admin@<tenant>.<domain>."""

    leader_election: bool = True
    """NEUROEDGE_LEADER_ELECTION: only the holder of the `neuroedge-operator` Lease reconciles ("false" turns
    the election off: one replica only, e.g. a debugger session against a scratch cluster)."""
    identity: str = ""
    """POD_NAME (downward API): this replica's name in the Lease; default `<hostname>_<pid>`, unique even for
    two processes on one machine."""
    lease_namespace: str = "default"
    """POD_NAMESPACE (downward API): the namespace of the Lease (default: `default`)."""
    lease_duration: float = 15.0
    """NEUROEDGE_LEASE_DURATION: seconds a Lease stays valid after its last renewal, as standbys judge it."""
    lease_renew_deadline: float = 10.0
    """NEUROEDGE_LEASE_RENEW_DEADLINE: seconds the leader keeps reconciling without a successful renewal."""
    lease_retry_period: float = 2.0
    """NEUROEDGE_LEASE_RETRY_PERIOD: seconds between renewals (leader) and acquisition attempts (standbys)."""

    def __repr__(self) -> str:  # the URLs carry passwords: never print them
        return f"OperatorSettings(resync_interval={self.resync_interval}, metrics_port={self.metrics_port})"


def _host_port(url: str, default_port: int) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or default_port}"


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative")
    return value


def _resources(env: Mapping[str, str], name: str) -> workload.Resources | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
        unknown = _unknown_resource_keys(value)
        if unknown:
            raise SettingsError(f"{name} has unknown keys {unknown} (requests/limits of cpu/memory)")
        return workload.Resources.model_validate(value)
    except (ValueError, pydantic.ValidationError) as exc:
        if isinstance(exc, SettingsError):
            raise
        first = str(exc).splitlines()[0]
        raise SettingsError(f"{name} is not a resources object ({first})") from None


def _unknown_resource_keys(value: object) -> list[str]:
    """Keys a resources object may not have: the resource models ignore unknown fields (a newer CRD may add
    some), but a setting with a typo such as `memroy` must not be silently dropped."""
    if not isinstance(value, dict):
        return []  # the model rejects it with its own message
    unknown = [k for k in value if k not in ("requests", "limits")]
    for section in ("requests", "limits"):
        inner = value.get(section)
        if isinstance(inner, dict):
            unknown += [f"{section}.{k}" for k in inner if k not in ("cpu", "memory")]
    return unknown


def _runtime_tracing(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    try:
        return tracing.runtime_env(env)
    except telemetry.TracingConfigError as exc:
        raise SettingsError(str(exc)) from None


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false", "1", "0"):
        raise SettingsError(f"{name}={raw!r} is not a boolean (true or false)")
    return raw in ("true", "1")


def _timing(env: Mapping[str, str]) -> leadership.Timing:
    """The leader-election periods, checked together (they constrain each other)."""
    timing = leadership.Timing(
        lease_duration=_number(env, "NEUROEDGE_LEASE_DURATION", 15.0) or 15.0,
        renew_deadline=_number(env, "NEUROEDGE_LEASE_RENEW_DEADLINE", 10.0) or 10.0,
        retry_period=_number(env, "NEUROEDGE_LEASE_RETRY_PERIOD", 2.0) or 2.0,
    )
    problem = leadership.validate(timing)
    if problem:
        raise SettingsError(
            f"NEUROEDGE_LEASE_DURATION/RENEW_DEADLINE/RETRY_PERIOD = {timing.lease_duration}/"
            f"{timing.renew_deadline}/{timing.retry_period}: {problem}"
        )
    return timing


def timing(settings: OperatorSettings) -> leadership.Timing:
    """The election's periods as the planner takes them."""
    return leadership.Timing(
        settings.lease_duration, settings.lease_renew_deadline, settings.lease_retry_period
    )


def from_env(env: Mapping[str, str]) -> OperatorSettings:
    """Settings from an environment mapping (pass `os.environ` at the entry point)."""
    database_url, redis_url = env.get("NEUROEDGE_DATABASE_URL", ""), env.get("NEUROEDGE_REDIS_URL", "")
    if not database_url or not redis_url:
        raise SettingsError("NEUROEDGE_DATABASE_URL and NEUROEDGE_REDIS_URL must be set")
    dbname = urlsplit(database_url).path.lstrip("/") or "postgres"
    periods = _timing(env)
    return OperatorSettings(
        database_url=database_url,
        redis_url=redis_url,
        tenant_database_host=env.get("NEUROEDGE_TENANT_DATABASE_HOST") or _host_port(database_url, 5432),
        tenant_database_name=env.get("NEUROEDGE_TENANT_DATABASE_NAME") or dbname,
        tenant_redis_host=env.get("NEUROEDGE_TENANT_REDIS_HOST") or _host_port(redis_url, 6379),
        qdrant_url=env.get("NEUROEDGE_QDRANT_URL", ""),
        qdrant_api_key=env.get("NEUROEDGE_QDRANT_API_KEY", ""),
        runtime_image=env.get("NEUROEDGE_RUNTIME_IMAGE") or "neuroedge/runtime:latest",
        runtime_resources=_resources(env, "NEUROEDGE_RUNTIME_RESOURCES"),
        runtime_tracing=_runtime_tracing(env),
        watch_namespaces=tuple(
            n.strip() for n in env.get("NEUROEDGE_WATCH_NAMESPACES", "").split(",") if n.strip()
        ),
        metrics_port=int(_number(env, "NEUROEDGE_METRICS_PORT", 9090)),
        health_port=int(_number(env, "NEUROEDGE_HEALTH_PORT", 8080)),
        log_level=(env.get("NEUROEDGE_LOG_LEVEL") or "INFO").upper(),
        resync_interval=_number(env, "NEUROEDGE_RESYNC_INTERVAL", 60.0) or 60.0,
        autoscale_interval=_number(env, "NEUROEDGE_AUTOSCALE_INTERVAL", 15.0) or 15.0,
        schedule_interval=_number(env, "NEUROEDGE_SCHEDULE_INTERVAL", 10.0) or 10.0,
        keda_check_interval=_number(env, "NEUROEDGE_KEDA_CHECK_INTERVAL", 60.0),
        watch_server_timeout=int(_number(env, "NEUROEDGE_WATCH_TIMEOUT", 300)) or 300,
        admin_email_domain=env.get("NEUROEDGE_ADMIN_EMAIL_DOMAIN") or "neuroedge.local",
        leader_election=_flag(env, "NEUROEDGE_LEADER_ELECTION", True),
        identity=env.get("POD_NAME") or f"{socket.gethostname()}_{os.getpid()}",
        lease_namespace=env.get("POD_NAMESPACE") or "default",
        lease_duration=periods.lease_duration,
        lease_renew_deadline=periods.renew_deadline,
        lease_retry_period=periods.retry_period,
    )
