"""RuntimeSettings: every knob of the runtime, loaded once from the environment at the entry point.

Nothing else in the runtime reads the environment; the app factory receives this object and passes it on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RuntimeSettings:
    """Settings of the runtime API (and the parts of it a worker shares)."""

    database_url: str
    """DSN of a LOGIN role that is a member of `neuroedge_runtime` (RLS limits it to `app.current_tenant`)."""
    redis_url: str
    """Redis URL (rate limiting)."""
    credentials_dir: Path
    """Mounted tenant credentials Secrets: `<dir>/<tenant>/<KEY>` files."""
    host: str = "127.0.0.1"
    """Address the API listens on."""
    port: int = 8080
    """Port the API listens on."""
    qdrant_url: str | None = None
    """Qdrant server URL; None means Qdrant-backed indexes are unavailable unless `qdrant_location` is set."""
    qdrant_api_key: str | None = None
    """API key for the Qdrant server."""
    qdrant_location: str | None = None
    """Local (in-process) Qdrant, e.g. ":memory:"; for tests and development only."""
    jwt_issuer: str = "https://neuroedge.local"
    """Base of the `iss` claim; each tenant's tokens carry `<jwt_issuer>/tenants/<tenant>`."""
    jwt_audience: str = "neuroedge-runtime"
    """The `aud` claim access tokens are issued for and must carry."""
    jwt_leeway_seconds: int = 30
    """Clock skew tolerated on `exp`, `nbf` and `iat`."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted (413 beyond)."""
    request_timeout_seconds: float = 10.0
    """A handler running longer is cancelled with 504."""
    shutdown_timeout_seconds: float = 20.0
    """On SIGTERM, how long in-flight requests may take to finish before they are cancelled."""
    db_pool_min: int = 1
    """Minimum connections in the asyncpg pool."""
    db_pool_max: int = 10
    """Maximum connections in the asyncpg pool."""
    db_statement_timeout_ms: int = 5000
    """PostgreSQL statement_timeout of the runtime's connections."""
    password_hash_slots: int = 2
    """Password hashes (scrypt, ~16 MiB and tens of ms each) that may run at once."""
    password_hash_queue: int = 64
    """Logins that may wait for a hashing slot; beyond, /auth/login answers 503 at once."""
    registry_cache: bool = True
    """Keep registry rows (tenants, engines) in process, exact through PostgreSQL change notifications
    (`tenancy.changes`); False reads the database on every request."""
    credentials_check_seconds: float = 0.5
    """How often a tenant's credential files are checked for changes (key rotation)."""
    log_level: str = "INFO"
    """Level of the JSON logs."""
    event_loop: str = "uvloop"
    """The API's event loop (`NEUROEDGE_EVENT_LOOP`): `uvloop` (libuv, the default: measurably cheaper per
    request, see bench/profiles/) or `asyncio` (the standard library's)."""
    pool: str | None = None
    """WorkerPool whose queue `/engine/run` enqueues into and `/jobs/{id}` reads (`NEUROEDGE_POOL`: the
    Engine's workerPoolRef on its API pods); None: `/engine/run` answers 503."""
    job_result_ttl_seconds: float = 86_400.0
    """How long a job's state and idempotency key are kept (`NEUROEDGE_RESULT_TTL_SECONDS`, as workers)."""
    model_cache_dir: Path = Path("/var/cache/neuroedge/models")
    """Where models downloaded over http(s) are kept, by sha256 (`NEUROEDGE_MODEL_CACHE_DIR`)."""
    model_mount_dir: Path = Path("/var/run/neuroedge/models")
    """Where the Engine's pvc and configmap model volumes are mounted (`NEUROEDGE_MODEL_MOUNT_DIR`)."""
    model_max_bytes: int = 512 * 1024 * 1024
    """Largest model file fetched (`NEUROEDGE_MODEL_MAX_BYTES`); a larger one fails with reason TooLarge."""
    model_memory_bytes: int = 2 * 1024 * 1024 * 1024
    """Total size of the models one process keeps loaded (`NEUROEDGE_MODEL_MEMORY_BYTES`); beyond it the least
    recently used model is unloaded."""
    model_retry_seconds: float = 30.0
    """After a model failed to load, how long requests are answered 503 before it is tried again."""
    inference_threads: int = 2
    """Threads that run model sessions off the event loop (`NEUROEDGE_INFERENCE_THREADS`)."""
    intra_op_threads: int = 1
    """ONNX Runtime threads inside one session run (`NEUROEDGE_INTRA_OP_THREADS`)."""
    instance: str = "local"
    """This process's name in model load reports (`HOSTNAME`: the pod's name)."""
    engine: str | None = None
    """The Engine whose pod this is (`NEUROEDGE_ENGINE`): its model is loaded at start and whenever its
    registry row names a new one, without waiting for a request, so the Engine's status can say ModelReady."""
    tenant: str | None = None
    """The tenant of that Engine (`NEUROEDGE_TENANT`)."""
    model_watch_seconds: float = 15.0
    """How often the Engine's registry row is checked for a new model (`NEUROEDGE_MODEL_WATCH_SECONDS`)."""
    llm_memory_messages: int = 40
    """Messages of one conversation (`X-Conversation-ID`) the LLM gateway remembers
    (`NEUROEDGE_LLM_MEMORY_MESSAGES`)."""
    llm_memory_tokens: int = 4000
    """Estimated tokens of remembered turns prepended to a prompt at most (`NEUROEDGE_LLM_MEMORY_TOKENS`)."""
    llm_memory_ttl_seconds: int = 86_400
    """A conversation is forgotten this long after its last turn (`NEUROEDGE_LLM_MEMORY_TTL_SECONDS`)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RuntimeSettings:
        """Settings from environment variables (docs/architecture.md); KeyError names a missing one."""
        env = os.environ if env is None else env

        def opt(name: str) -> str | None:
            return env.get(name) or None

        return cls(
            database_url=env["DATABASE_URL"],
            redis_url=env["REDIS_URL"],
            credentials_dir=Path(env.get("NEUROEDGE_CREDENTIALS_DIR", "/var/run/neuroedge/credentials")),
            host=env.get("NEUROEDGE_RUNTIME_HOST", cls.host),
            port=int(env.get("NEUROEDGE_RUNTIME_PORT", str(cls.port))),
            qdrant_url=opt("NEUROEDGE_QDRANT_URL"),
            qdrant_api_key=opt("NEUROEDGE_QDRANT_API_KEY"),
            qdrant_location=opt("NEUROEDGE_QDRANT_LOCATION"),
            jwt_issuer=env.get("NEUROEDGE_JWT_ISSUER", cls.jwt_issuer),
            jwt_audience=env.get("NEUROEDGE_JWT_AUDIENCE", cls.jwt_audience),
            max_body_bytes=int(env.get("NEUROEDGE_MAX_BODY_BYTES", str(cls.max_body_bytes))),
            request_timeout_seconds=float(
                env.get("NEUROEDGE_REQUEST_TIMEOUT_SECONDS", str(cls.request_timeout_seconds))
            ),
            db_pool_max=int(env.get("NEUROEDGE_DB_POOL_MAX", str(cls.db_pool_max))),
            log_level=env.get("NEUROEDGE_LOG_LEVEL", cls.log_level),
            event_loop=_event_loop(env.get("NEUROEDGE_EVENT_LOOP", cls.event_loop)),
            pool=opt("NEUROEDGE_POOL"),
            job_result_ttl_seconds=float(
                env.get("NEUROEDGE_RESULT_TTL_SECONDS", str(cls.job_result_ttl_seconds))
            ),
            **_serving(env),
            llm_memory_messages=int(env.get("NEUROEDGE_LLM_MEMORY_MESSAGES", str(cls.llm_memory_messages))),
            llm_memory_tokens=int(env.get("NEUROEDGE_LLM_MEMORY_TOKENS", str(cls.llm_memory_tokens))),
            llm_memory_ttl_seconds=int(
                env.get("NEUROEDGE_LLM_MEMORY_TTL_SECONDS", str(cls.llm_memory_ttl_seconds))
            ),
        )


EVENT_LOOPS = ("uvloop", "asyncio")


def _event_loop(value: str) -> str:
    if value not in EVENT_LOOPS:
        raise ValueError(f"NEUROEDGE_EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}, not {value!r}")
    return value


def _serving(env: Mapping[str, str]) -> dict[str, Any]:
    """The model-serving settings present in `env` (absent ones keep their defaults)."""
    names: dict[str, tuple[str, Callable[[str], Any]]] = {
        "NEUROEDGE_MODEL_CACHE_DIR": ("model_cache_dir", Path),
        "NEUROEDGE_MODEL_MOUNT_DIR": ("model_mount_dir", Path),
        "NEUROEDGE_MODEL_MAX_BYTES": ("model_max_bytes", int),
        "NEUROEDGE_MODEL_MEMORY_BYTES": ("model_memory_bytes", int),
        "NEUROEDGE_MODEL_RETRY_SECONDS": ("model_retry_seconds", float),
        "NEUROEDGE_INFERENCE_THREADS": ("inference_threads", int),
        "NEUROEDGE_INTRA_OP_THREADS": ("intra_op_threads", int),
        "HOSTNAME": ("instance", str),
        "NEUROEDGE_ENGINE": ("engine", str),
        "NEUROEDGE_TENANT": ("tenant", str),
        "NEUROEDGE_MODEL_WATCH_SECONDS": ("model_watch_seconds", float),
    }
    return {field: parse(env[name]) for name, (field, parse) in names.items() if env.get(name)}
