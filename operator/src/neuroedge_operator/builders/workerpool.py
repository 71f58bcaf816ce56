"""Desired objects of a WorkerPool: the worker Deployment (`neuroedge-runtime worker`), its
PodDisruptionBudget and, when the pool asks for KEDA, a ScaledObject with its TriggerAuthentication and
Secret.

Replicas rule (one writer per field, so nothing fights):
- `spec.replicas` is the pool's desired size. `kubectl scale`, an HPA, KEDA (its ScaledObject targets the
  WorkerPool's /scale, not the Deployment) and the operator's own autoscaler all write it there.
- The Deployment's replicas is the value the handler passes in: `deployment_replicas(pool, decided)`, that is
  0 while suspended, else the autoscaler's decision when the operator's autoscaler has just decided one, else
  spec.replicas; always clamped to minReplicas..maxReplicas. Only the operator writes the Deployment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.builders import pods
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model
from neuroedge_operator.resources import workload

COMPONENT = "worker"
SERVICE_NAME = "neuroedge-runtime-worker"
"""OTEL_SERVICE_NAME of the pods, the name the runtime gives itself in this mode."""
METRICS_PORT = 9090
METRICS_PORT_NAME = "metrics"
CONSUMER_GROUP = "pool"
GRACE_MARGIN_SECONDS = 15
"""terminationGracePeriodSeconds = drain + margin: time to settle the last jobs and close connections."""
MAX_DRAIN_SECONDS = 300
"""Drain at most this long on SIGTERM; a longer job is cut and claimed again by another worker."""
JOB_TIMEOUT_MARGIN_SECONDS = 5.0
PROBE_PATHS = pods.ProbePaths(liveness="/metrics", readiness="/metrics")
"""The worker serves only Prometheus metrics on its port: the probes prove the process is up and serving,
nothing more (readiness does not claim Redis is reachable; a worker that cannot reach Redis retries)."""
ENGINE_MODELS_ANNOTATION = "neuroedge.io/engine-models"
"""On the pod template: the volume models of the Engines the pool serves, `{engine: {uri, sha256}}`."""
KEDA_API_VERSION = "keda.sh/v1alpha1"
KEDA_SECRET_KEYS = ("address", "username", "password")


@dataclass(frozen=True)
class ServedModel:
    """A served Engine's model on a volume (`pvc://`, `configmap://`): the pool's workers score its
    `/engine/run` jobs, so they mount the volume as the Engine's own pods do."""

    engine: str
    model: engine_model.ModelSource


class InvalidRedisUrlError(ValueError):
    """The tenant's REDIS_URL cannot be turned into KEDA's address and credentials."""


@dataclass(frozen=True)
class PoolInputs:
    """What the handler observed and passes in; everything else comes from the WorkerPool itself."""

    tenant: str
    default_image: str
    replicas: int
    """The Deployment's replicas, from `deployment_replicas`."""
    resource_defaults: workload.Resources | None = None
    """The operator's default container resources (NEUROEDGE_RUNTIME_RESOURCES), used when the pool sets
    none."""
    tracing: Sequence[tuple[str, str]] = ()
    """The operator's OTEL_* configuration the pods inherit (settings.runtime_tracing; empty: no tracing)."""
    models: Sequence[ServedModel] = ()
    """The volume models of the Engines the pool serves (plan/pool_models.py picks them)."""


def name(pool: pool_model.WorkerPool) -> str:
    """Name of the Deployment, the PodDisruptionBudget and the KEDA objects."""
    return f"workerpool-{pool.name}"


def owner_label(pool: pool_model.WorkerPool) -> tuple[str, str]:
    return (pool_model.POOL_LABEL, pool.name)


def labels(pool: pool_model.WorkerPool, tenant: str) -> dict[str, str]:
    return pods.labels(tenant, pool.name, COMPONENT, owner_label(pool))


def selector(pool: pool_model.WorkerPool) -> dict[str, str]:
    return pods.selector(COMPONENT, owner_label(pool))


def status_selector(pool: pool_model.WorkerPool) -> str:
    """`status.selector`, which /scale reports to HPA and KEDA."""
    return pods.selector_string(selector(pool))


def stream_key(tenant: str, pool: str) -> str:
    """The pool's stream (docs/architecture.md: `ne:<t>:{<t>.<p>}:stream`)."""
    return f"ne:{tenant}:{{{tenant}.{pool}}}:stream"


def deployment_replicas(pool: pool_model.WorkerPool, decided: int | None = None) -> int:
    """The Deployment's replicas under the rule in the module docstring."""
    if pool.spec.suspend:
        return 0
    spec = pool.spec
    wanted = spec.desired_replicas if decided is None else decided
    return max(spec.min_replicas, min(spec.max_replicas, wanted))


def job_timeout(pool: pool_model.WorkerPool) -> float:
    """NEUROEDGE_JOB_TIMEOUT_SECONDS, always below claimIdleSeconds: a job still running when its entry has
    been idle for claimIdleSeconds would be claimed and run a second time by another worker. The rule:
    claimIdleSeconds - 5 s, but never less than half of it (claimIdleSeconds 30 -> 25 s, 6 -> 3 s)."""
    claim = float(pool.spec.queue.claim_idle_seconds)
    return max(claim - JOB_TIMEOUT_MARGIN_SECONDS, claim / 2)


def drain_seconds(pool: pool_model.WorkerPool) -> int:
    """NEUROEDGE_GRACE_SECONDS: a stopping worker lets a job started just before SIGTERM run to its timeout,
    up to MAX_DRAIN_SECONDS."""
    return min(MAX_DRAIN_SECONDS, math.ceil(job_timeout(pool)))


def deployment(pool: pool_model.WorkerPool, inputs: PoolInputs) -> dict[str, Any]:
    grace = drain_seconds(pool) + GRACE_MARGIN_SECONDS
    template = pods.pod_template(container_spec(pool, inputs), labels(pool, inputs.tenant), grace, {})
    meta = pods.metadata(name(pool), pool.namespace, labels(pool, inputs.tenant), pool.meta)
    return pods.deployment(meta, selector(pool), inputs.replicas, template)


def container_spec(pool: pool_model.WorkerPool, inputs: PoolInputs) -> pods.ContainerSpec:
    mounts, volumes = model_volumes(inputs.models)
    return pods.ContainerSpec(
        image=pool.spec.image or inputs.default_image,
        args=["worker"],
        env=[
            *_env(pool),
            *pods.env({"NEUROEDGE_MODEL_MOUNT_DIR": engine_builder.MODEL_MOUNT_DIR} if mounts else {}),
            *pods.tracing_env(
                inputs.tracing, SERVICE_NAME, pool.namespace, inputs.tenant, ("neuroedge.pool", pool.name)
            ),
        ],
        ports=[{"name": METRICS_PORT_NAME, "containerPort": METRICS_PORT, "protocol": "TCP"}],
        probe_port=METRICS_PORT_NAME,
        probe_paths=PROBE_PATHS,
        resources=pods.resources(pool.spec.resources, inputs.resource_defaults),
        mounts=mounts,
        volumes=volumes,
        annotations={
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(METRICS_PORT),
            **models_annotation(inputs.models),
        },
    )


def model_volumes(models: Sequence[ServedModel]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One read-only volume per distinct claim or ConfigMap (two Engines on one claim share its mount: a
    mount path may appear once), built as the Engine's own pods mount it."""
    mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    seen: set[str] = set()
    for served in sorted(models, key=lambda m: engine_builder.model_mount_path(m.model)):
        path = engine_builder.model_mount_path(served.model)
        built = engine_builder.model_volume(served.model, model_volume_name(served.model))
        if built is None or path in seen:
            continue
        seen.add(path)
        mounts.append(built[0])
        volumes.append(built[1])
    return mounts, volumes


def model_volume_name(model: engine_model.ModelSource) -> str:
    """A volume name (a DNS label) unique per claim or ConfigMap: their names may be 253 characters."""
    digest = hashlib.sha256(model.volume.encode()).hexdigest()[:12]
    return f"model-{model.scheme}-{digest}"


def models_annotation(models: Sequence[ServedModel]) -> dict[str, str]:
    """Which Engine's model each pod was started for: part of the template's hash, so a served Engine's new
    model (even on the same claim) rolls the workers, which then read the new files (a mounted ConfigMap's
    update reaches running pods only after the kubelet's sync delay), and `kubectl describe` shows it."""
    if not models:
        return {}
    served = {
        m.engine: {"uri": m.model.uri, **({"sha256": m.model.sha256} if m.model.sha256 else {})}
        for m in models
    }
    return {ENGINE_MODELS_ANNOTATION: json.dumps(served, sort_keys=True, separators=(",", ":"))}


def _env(pool: pool_model.WorkerPool) -> list[dict[str, Any]]:
    spec, secret = pool.spec, pods.CREDENTIALS_SECRET
    queue, backoff = spec.queue, spec.queue.retry_backoff
    values = {
        "NEUROEDGE_POOL": pool.name,
        "NEUROEDGE_CONCURRENCY": str(spec.concurrency),
        "NEUROEDGE_MAX_DELIVERIES": str(queue.max_deliveries),
        "NEUROEDGE_CLAIM_IDLE_SECONDS": str(queue.claim_idle_seconds),
        "NEUROEDGE_JOB_TIMEOUT_SECONDS": f"{job_timeout(pool):g}",
        "NEUROEDGE_RETRY_BASE_SECONDS": str(backoff.initial_seconds),
        "NEUROEDGE_RETRY_CAP_SECONDS": str(backoff.max_seconds),
        "NEUROEDGE_GRACE_SECONDS": str(drain_seconds(pool)),
        "NEUROEDGE_METRICS_PORT": str(METRICS_PORT),
        # With DATABASE_URL: the worker loads the embedding model and runs ingestion jobs, conversations
        # over an index and LLM agents (any pool may be an Engine's workerPoolRef that receives them).
        "NEUROEDGE_WORKER_VECTORS": "1",
    }
    return [
        pods.secret_env("NEUROEDGE_TENANT", secret, "TENANT"),
        pods.secret_env("REDIS_URL", secret, "REDIS_URL"),
        pods.secret_env("DATABASE_URL", secret, "DATABASE_URL"),
        *pods.env(values),
    ]


def pod_disruption_budget(pool: pool_model.WorkerPool, tenant: str) -> dict[str, Any]:
    """At most one worker evicted at a time by a drain: the others keep consuming, and the evicted one's
    unacknowledged jobs are claimed by them after claimIdleSeconds."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": pods.metadata(name(pool), pool.namespace, labels(pool, tenant), pool.meta),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector(pool)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def keda_secret_data(redis_url: str) -> dict[str, str]:
    """KEDA's redis-streams parameters from the tenant's REDIS_URL (KEDA takes host:port and credentials
    separately, not a URL)."""
    parts = urlsplit(redis_url)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise InvalidRedisUrlError("REDIS_URL must be a redis:// or rediss:// URL with a host")
    try:
        port = parts.port or 6379
    except ValueError:
        raise InvalidRedisUrlError("REDIS_URL has an invalid port") from None
    return {
        "address": f"{parts.hostname}:{port}",
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
    }


def keda_secret(pool: pool_model.WorkerPool, tenant: str, redis_url: str) -> dict[str, Any]:
    """The Secret the TriggerAuthentication reads, derived from the tenant's credentials Secret. Base64
    `data`, not `stringData`, so that it compares equal with the live object: an idle pass writes nothing."""
    data = keda_secret_data(redis_url)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": pods.metadata(f"{name(pool)}-keda", pool.namespace, labels(pool, tenant), pool.meta),
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def trigger_authentication(pool: pool_model.WorkerPool, tenant: str) -> dict[str, Any]:
    secret = f"{name(pool)}-keda"
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "TriggerAuthentication",
        "metadata": pods.metadata(name(pool), pool.namespace, labels(pool, tenant), pool.meta),
        "spec": {
            "secretTargetRef": [{"parameter": key, "name": secret, "key": key} for key in KEDA_SECRET_KEYS]
        },
    }


def scaled_object(pool: pool_model.WorkerPool, tenant: str, tls: bool = False) -> dict[str, Any]:
    """KEDA scales the WorkerPool through /scale (so spec.replicas stays the one desired size) on the
    consumer group's lag, between minReplicas and maxReplicas, with the pool's cooldown."""
    spec = pool.spec
    metadata: dict[str, str] = {
        "stream": stream_key(tenant, pool.name),
        "consumerGroup": CONSUMER_GROUP,
        "lagCount": str(spec.autoscaling.target_lag_per_replica),
        "activationLagCount": "0",
    }
    if tls:
        metadata["enableTLS"] = "true"
    meta = pods.metadata(name(pool), pool.namespace, labels(pool, tenant), pool.meta)
    return {
        "apiVersion": KEDA_API_VERSION,
        "kind": "ScaledObject",
        "metadata": meta,
        "spec": {
            "scaleTargetRef": {
                "apiVersion": workload.API_VERSION,
                "kind": pool_model.KIND,
                "name": pool.name,
            },
            "minReplicaCount": spec.min_replicas,
            "maxReplicaCount": spec.max_replicas,
            "cooldownPeriod": spec.autoscaling.cooldown_seconds,
            "pollingInterval": 15,
            "triggers": [
                {"type": "redis-streams", "metadata": metadata, "authenticationRef": {"name": name(pool)}}
            ],
        },
    }


def desired(
    pool: pool_model.WorkerPool, inputs: PoolInputs, keda_installed: bool, redis_url: str | None
) -> list[dict[str, Any]]:
    """Every object of the pool, in apply order. The KEDA objects only when the pool asks for KEDA, KEDA's
    CRDs are installed and the tenant's REDIS_URL is known; otherwise the operator's autoscaler applies.
    A suspended pool has no ScaledObject (the apply diff removes it, and it comes back on resume): KEDA would
    otherwise keep waking the pool, and an annotation that pauses it would outlive the suspension under an
    apply diff that ignores fields we stop setting."""
    objects = [deployment(pool, inputs), pod_disruption_budget(pool, inputs.tenant)]
    if uses_keda(pool, keda_installed) and redis_url is not None:
        objects += [keda_secret(pool, inputs.tenant, redis_url), trigger_authentication(pool, inputs.tenant)]
        if not pool.spec.suspend:
            objects.append(scaled_object(pool, inputs.tenant, urlsplit(redis_url).scheme == "rediss"))
    return objects


def uses_keda(pool: pool_model.WorkerPool, keda_installed: bool) -> bool:
    """Whether KEDA scales the pool (else, with autoscaling enabled, the operator's own autoscaler does)."""
    scaling = pool.spec.autoscaling
    return scaling.enabled and scaling.keda and keda_installed


def keda_keys(pool: pool_model.WorkerPool) -> list[tuple[str, str, str, str]]:
    """(apiVersion, kind, namespace, name) of the KEDA children a pool may have had: the apply step removes
    those no longer desired (the pool stopped asking for KEDA, or was suspended)."""
    return [
        ("v1", "Secret", pool.namespace, f"{name(pool)}-keda"),
        (KEDA_API_VERSION, "TriggerAuthentication", pool.namespace, name(pool)),
        (KEDA_API_VERSION, "ScaledObject", pool.namespace, name(pool)),
    ]
