"""WorkerSettings: everything a worker process needs, loaded once from the environment at the entry point
and passed down explicitly (nothing below reads the environment)."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from neuroedge_queue import keys, retry


class SettingsError(ValueError):
    """A missing or malformed environment variable (the message names it)."""


@dataclass(frozen=True)
class WorkerSettings:
    """A worker process of pool `pool` of tenant `tenant`."""

    redis_url: str
    tenant: str
    pool: str
    consumer: str
    """This process's consumer name in the group; stable across restarts of the same pod (hostname-pid, and
    the pid of a container's main process is stable), so a restarted worker re-reads its own pending jobs."""
    concurrency: int = 16
    """Jobs one process runs at once (the WorkerPool's concurrency)."""
    max_deliveries: int = 5
    """Attempts before a job goes to the dead-letter stream (the WorkerPool's maxDeliveries)."""
    claim_idle: float = 60.0
    """Seconds a delivered job may stay unacknowledged before another worker claims it; keep it above
    `job_timeout` so that a healthy slow job is not run twice."""
    job_timeout: float = 30.0
    """Seconds one attempt may run before it is cancelled and counted as failed."""
    grace: float = 25.0
    """Seconds in-flight jobs get to finish after SIGTERM (below the pod's terminationGracePeriodSeconds)."""
    result_ttl: float = 86_400.0
    """Seconds a job hash (status, result) and an idempotency key are kept."""
    retry_base: float = 0.5
    retry_cap: float = 60.0
    batch: int = 256
    """Most entries read from the stream per XREADGROUP."""
    block_ms: int = 1000
    """XREADGROUP BLOCK time; also bounds how long a SIGTERM waits for the read in progress."""
    metrics_port: int = 0
    """Port of the Prometheus endpoint; 0 disables it."""
    test_engines: bool = False
    """Register the misbehaving engines of `engines.testing` (tests only)."""
    model_cache_dir: str = "/tmp/neuroedge-models"  # noqa: S108 - the pod's private /tmp emptyDir
    """Where models of ONNX Engines' jobs are downloaded, by sha256 (`NEUROEDGE_MODEL_CACHE_DIR`)."""
    model_mount_dir: str = "/var/run/neuroedge/models"
    """Where the WorkerPool builder mounts the pvc:// and configmap:// models of the Engines the pool serves,
    as an Engine's own pods do (`NEUROEDGE_MODEL_MOUNT_DIR`; resolved by `serving.artifacts.mounted_path`)."""
    model_max_bytes: int = 200 * 1024 * 1024
    """Largest model a job downloads (`NEUROEDGE_MODEL_MAX_BYTES`): the pod's /tmp holds 256 MiB."""
    model_memory_bytes: int = 1024 * 1024 * 1024
    """Total size of the models one worker keeps loaded (`NEUROEDGE_MODEL_MEMORY_BYTES`)."""
    inference_threads: int = 2
    """Threads that run model sessions off the event loop (`NEUROEDGE_INFERENCE_THREADS`)."""
    database_url: str | None = None
    """`DATABASE_URL`, read only with `NEUROEDGE_WORKER_VECTORS=1`: the worker then also loads the embedding
    model and runs ingestion jobs (`vector.ingest`) and conversations over an index, writing to the tenant's
    vector indexes (pgvector under RLS); None: it does neither (and stays as light as before)."""
    qdrant_url: str | None = None
    """`NEUROEDGE_QDRANT_URL`: the Qdrant server of Qdrant-backed indexes (ingestion jobs)."""
    qdrant_api_key: str | None = None
    """`NEUROEDGE_QDRANT_API_KEY`."""

    def __post_init__(self) -> None:
        keys.check_tenant(self.tenant)
        keys.check_pool(self.pool)
        for name in ("concurrency", "max_deliveries", "batch", "block_ms"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("claim_idle", "job_timeout", "result_ttl", "retry_base", "retry_cap"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive, got {getattr(self, name)}")
        if self.grace < 0:
            raise SettingsError(f"grace must not be negative, got {self.grace}")

    @property
    def queue_keys(self) -> keys.QueueKeys:
        return keys.QueueKeys(self.tenant, self.pool)

    @property
    def retry_policy(self) -> retry.RetryPolicy:
        return retry.RetryPolicy(base=self.retry_base, cap=self.retry_cap, max_attempts=self.max_deliveries)


_NUMBERS: dict[str, tuple[str, type[int] | type[float]]] = {
    "concurrency": ("NEUROEDGE_CONCURRENCY", int),
    "max_deliveries": ("NEUROEDGE_MAX_DELIVERIES", int),
    "claim_idle": ("NEUROEDGE_CLAIM_IDLE_SECONDS", float),
    "job_timeout": ("NEUROEDGE_JOB_TIMEOUT_SECONDS", float),
    "grace": ("NEUROEDGE_GRACE_SECONDS", float),
    "result_ttl": ("NEUROEDGE_RESULT_TTL_SECONDS", float),
    "retry_base": ("NEUROEDGE_RETRY_BASE_SECONDS", float),
    "retry_cap": ("NEUROEDGE_RETRY_CAP_SECONDS", float),
    "batch": ("NEUROEDGE_BATCH", int),
    "block_ms": ("NEUROEDGE_BLOCK_MS", int),
    "metrics_port": ("NEUROEDGE_METRICS_PORT", int),
    "model_max_bytes": ("NEUROEDGE_MODEL_MAX_BYTES", int),
    "model_memory_bytes": ("NEUROEDGE_MODEL_MEMORY_BYTES", int),
    "inference_threads": ("NEUROEDGE_INFERENCE_THREADS", int),
}


def from_env(env: Mapping[str, str]) -> WorkerSettings:
    """Settings from `REDIS_URL`, `NEUROEDGE_TENANT` (or the credentials Secret's `TENANT`),
    `NEUROEDGE_POOL`, and the optional `NEUROEDGE_*` variables of `_NUMBERS`."""
    values: dict[str, object] = {
        "redis_url": _required(env, "REDIS_URL"),
        "tenant": env.get("NEUROEDGE_TENANT")
        or env.get("TENANT")
        or _missing("NEUROEDGE_TENANT (or TENANT)"),
        "pool": _required(env, "NEUROEDGE_POOL"),
        "consumer": env.get("NEUROEDGE_CONSUMER") or f"{socket.gethostname()}-{os.getpid()}",
        "test_engines": env.get("NEUROEDGE_TEST_ENGINES", "") in {"1", "true", "yes"},
        "database_url": (env.get("DATABASE_URL") or None)
        if env.get("NEUROEDGE_WORKER_VECTORS", "") in {"1", "true", "yes"}
        else None,
        "qdrant_url": env.get("NEUROEDGE_QDRANT_URL") or None,
        "qdrant_api_key": env.get("NEUROEDGE_QDRANT_API_KEY") or None,
    }
    for field, name in (
        ("model_cache_dir", "NEUROEDGE_MODEL_CACHE_DIR"),
        ("model_mount_dir", "NEUROEDGE_MODEL_MOUNT_DIR"),
    ):
        if env.get(name):
            values[field] = env[name]
    for field, (name, kind) in _NUMBERS.items():
        if env.get(name):
            try:
                values[field] = kind(env[name])
            except ValueError:
                raise SettingsError(f"{name}={env[name]!r} is not a valid {kind.__name__}") from None
    try:
        return WorkerSettings(**values)  # type: ignore[arg-type]
    except keys.InvalidName as exc:
        raise SettingsError(str(exc)) from None


def _required(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "") or _missing(name)


def _missing(name: str) -> str:
    raise SettingsError(f"{name} is not set")
