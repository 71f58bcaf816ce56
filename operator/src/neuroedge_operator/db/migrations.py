"""Versioned schema migrations for the shared, tenant-scoped tables.

Every tenant-scoped table has a `tenant_id` column, row-level security ENABLEd and FORCEd (so that even the
owner is subject to it), and a policy for the shared runtime role that reads the tenant from the
transaction-local setting `app.current_tenant`. Per-tenant login roles get their own policies from the
Tenant reconciler (see `neuroedge_operator.builders.sql`).

Migrations are append-only: a released migration is never edited, only followed by a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = "neuroedge"
OWNER_ROLE = "neuroedge_owner"
RUNTIME_ROLE = "neuroedge_runtime"
TENANT_SETTING = "app.current_tenant"
MIGRATION_LOCK_KEY = 0x4E45_5545  # pg_advisory_xact_lock key: "NEUE"

# Tables whose rows belong to one tenant; every one gets ENABLE + FORCE row-level security.
TENANT_TABLES = (
    "tenants",
    "users",
    "refresh_tokens",
    "vector_indexes",
    "engines",
    "engine_model_reports",
    "llm_usage",
)
# The tables version 1 created (frozen: version 1's SQL must never change).
_V1_TABLES = ("tenants", "users", "refresh_tokens", "vector_indexes")


@dataclass(frozen=True)
class Migration:
    """One schema version: applied once, in order, inside the migration transaction."""

    version: int
    name: str
    sql: str


def _current_tenant_policy(table: str) -> str:
    return (
        f"CREATE POLICY runtime_current_tenant ON {SCHEMA}.{table} TO {RUNTIME_ROLE} "
        f"USING (tenant_id = current_setting('{TENANT_SETTING}', true)) "
        f"WITH CHECK (tenant_id = current_setting('{TENANT_SETTING}', true));"
    )


def _secure(table: str) -> str:
    return "\n".join(
        [
            f"ALTER TABLE {SCHEMA}.{table} OWNER TO {OWNER_ROLE};",
            f"ALTER TABLE {SCHEMA}.{table} ENABLE ROW LEVEL SECURITY;",
            f"ALTER TABLE {SCHEMA}.{table} FORCE ROW LEVEL SECURITY;",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON {SCHEMA}.{table} TO {RUNTIME_ROLE};",
            _current_tenant_policy(table),
        ]
    )


_INITIAL = f"""
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE {SCHEMA}.tenants (
    tenant_id text PRIMARY KEY CHECK (tenant_id ~ '^[a-z]([a-z0-9-]{{0,38}}[a-z0-9])?$'),
    suspended boolean NOT NULL DEFAULT false,
    access_token_ttl_seconds integer NOT NULL DEFAULT 900 CHECK (access_token_ttl_seconds > 0),
    refresh_token_ttl_seconds integer NOT NULL DEFAULT 1209600 CHECK (refresh_token_ttl_seconds > 0),
    rate_limit_rps double precision NOT NULL DEFAULT 50 CHECK (rate_limit_rps > 0),
    rate_limit_burst integer NOT NULL DEFAULT 100 CHECK (rate_limit_burst > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE {SCHEMA}.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id text NOT NULL REFERENCES {SCHEMA}.tenants (tenant_id) ON DELETE CASCADE,
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_tenant_email ON {SCHEMA}.users (tenant_id, lower(email));

CREATE TABLE {SCHEMA}.refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id text NOT NULL REFERENCES {SCHEMA}.tenants (tenant_id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES {SCHEMA}.users (id) ON DELETE CASCADE,
    family_id uuid NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON {SCHEMA}.refresh_tokens (tenant_id, family_id);

CREATE TABLE {SCHEMA}.vector_indexes (
    tenant_id text NOT NULL REFERENCES {SCHEMA}.tenants (tenant_id) ON DELETE CASCADE,
    name text NOT NULL,
    backend text NOT NULL CHECK (backend IN ('qdrant', 'pgvector')),
    dimension integer NOT NULL CHECK (dimension BETWEEN 1 AND 16000),
    distance text NOT NULL CHECK (distance IN ('Cosine', 'Dot', 'Euclid')),
    storage_name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
"""

# Version 2: the Engine registry the runtime routes /engine/* through (one row per Engine resource, written by
# the Engine reconciler), and an optional per-user rate limit (NULL: a user may use the whole tenant limit).
_ENGINES = f"""
CREATE TABLE {SCHEMA}.engines (
    tenant_id text NOT NULL REFERENCES {SCHEMA}.tenants (tenant_id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[a-z]([a-z0-9-]{{0,61}}[a-z0-9])?$'),
    kind text NOT NULL CHECK (kind IN ('predictive', 'agent', 'conversation', 'analytics')),
    config jsonb NOT NULL DEFAULT '{{}}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
ALTER TABLE {SCHEMA}.tenants
    ADD COLUMN user_rate_limit_rps double precision CHECK (user_rate_limit_rps > 0),
    ADD COLUMN user_rate_limit_burst integer CHECK (user_rate_limit_burst > 0);
"""

# The registry tables the runtime caches in process; every write to them notifies the runtime (on commit).
REGISTRY_TABLES = ("tenants", "engines", "vector_indexes")
REGISTRY_CHANNEL = "neuroedge_registry"

_REGISTRY_NOTIFY = f"""
CREATE FUNCTION {SCHEMA}.notify_registry_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed jsonb := to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END);
BEGIN
  PERFORM pg_notify('{REGISTRY_CHANNEL}', json_build_object(
    'table', TG_TABLE_NAME, 'tenant', changed ->> 'tenant_id', 'name', changed ->> 'name')::text);
  IF TG_OP = 'UPDATE' AND (OLD.tenant_id, to_jsonb(OLD) ->> 'name') IS DISTINCT FROM
     (NEW.tenant_id, to_jsonb(NEW) ->> 'name') THEN
    PERFORM pg_notify('{REGISTRY_CHANNEL}', json_build_object(
      'table', TG_TABLE_NAME, 'tenant', OLD.tenant_id, 'name', to_jsonb(OLD) ->> 'name')::text);
  END IF;
  RETURN NULL;
END $$;
""" + "".join(
    f"CREATE TRIGGER registry_change AFTER INSERT OR UPDATE OR DELETE ON {SCHEMA}.{table} "
    f"FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.notify_registry_change();\n"
    for table in REGISTRY_TABLES
)

# Version 4: trained models of predictive Engines. `engines.model` is the Engine's `spec.model` (with
# `spec.batching` under `batching`) as the reconciler wrote it, NULL for the built-in linear/logistic mode.
# `engine_model_reports` is what each runtime instance (pod) loaded for an Engine, or why it could not; the
# Engine reconciler reads it into `status.model` and the `ModelReady` condition.
# A report goes with its Engine.
_MODELS = f"""
ALTER TABLE {SCHEMA}.engines
    ADD COLUMN model jsonb CHECK (model IS NULL OR jsonb_typeof(model) = 'object');
CREATE TABLE {SCHEMA}.engine_model_reports (
    tenant_id text NOT NULL,
    name text NOT NULL,
    instance text NOT NULL CHECK (length(instance) BETWEEN 1 AND 253),
    uri text NOT NULL,
    sha256 text NOT NULL,
    loaded boolean NOT NULL,
    reason text NOT NULL,
    message text NOT NULL,
    inputs jsonb,
    outputs jsonb,
    reported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name, instance),
    FOREIGN KEY (tenant_id, name) REFERENCES {SCHEMA}.engines (tenant_id, name) ON DELETE CASCADE
);
"""

# Version 5: a VectorIndex's embedding model (spec.embedding), so the runtime can embed text for it. The API
# key of an external provider is copied from the tenant's Secret by the VectorIndex reconciler; RLS keeps each
# tenant's rows (and keys) to itself. NULL model: the index takes vectors only.
_EMBEDDING = f"""
ALTER TABLE {SCHEMA}.vector_indexes
    ADD COLUMN embedding_model text CHECK (length(embedding_model) BETWEEN 1 AND 256),
    ADD COLUMN embedding_provider text CHECK (embedding_provider IN ('builtin', 'openai')),
    ADD COLUMN embedding_base_url text CHECK (embedding_base_url ~ '^https?://'),
    ADD COLUMN embedding_api_key text,
    ADD CONSTRAINT vector_indexes_embedding_complete CHECK (
        (embedding_model IS NULL) = (embedding_provider IS NULL)
        AND (embedding_provider IS DISTINCT FROM 'openai' OR embedding_base_url IS NOT NULL)
    );
"""

# Version 6: LLM token budgets on the tenant row (NULL: unlimited) and the LLM usage meter, one row per
# tenant, Engine and UTC day, upserted by the runtime's gateway after every completion.
_LLM = f"""
ALTER TABLE {SCHEMA}.tenants
    ADD COLUMN llm_tokens_per_minute bigint CHECK (llm_tokens_per_minute > 0),
    ADD COLUMN llm_tokens_per_day bigint CHECK (llm_tokens_per_day > 0);
CREATE TABLE {SCHEMA}.llm_usage (
    tenant_id text NOT NULL REFERENCES {SCHEMA}.tenants (tenant_id) ON DELETE CASCADE,
    engine text NOT NULL,
    day date NOT NULL,
    requests bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
    prompt_tokens bigint NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens bigint NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, engine, day)
);
"""

_ROUTERS = f"""
ALTER TABLE {SCHEMA}.engines DROP CONSTRAINT IF EXISTS engines_kind_check;
ALTER TABLE {SCHEMA}.engines ADD CONSTRAINT engines_kind_check
    CHECK (kind IN ('predictive', 'agent', 'conversation', 'analytics', 'router'));
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "tenant-scoped tables with row-level security",
        _INITIAL + "\n".join(_secure(t) for t in _V1_TABLES),
    ),
    Migration(2, "engine registry and per-user rate limits", _ENGINES + _secure("engines")),
    Migration(3, "registry changes notify the runtimes' caches", _REGISTRY_NOTIFY),
    Migration(4, "engine models and their load reports", _MODELS + _secure("engine_model_reports")),
    Migration(5, "embedding models of vector indexes", _EMBEDDING),
    Migration(6, "LLM token budgets and usage meter", _LLM + _secure("llm_usage")),
    Migration(7, "router engines", _ROUTERS),
)


def bootstrap_sql() -> list[str]:
    """Statements run before the migrations, idempotent by construction: the schema and the two platform
    roles (a NOLOGIN owner, so tables never belong to a login role, and the shared runtime role)."""
    return [
        f"DO $$ BEGIN CREATE ROLE {OWNER_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
        f"DO $$ BEGIN CREATE ROLE {RUNTIME_ROLE} NOLOGIN NOBYPASSRLS; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA} AUTHORIZATION {OWNER_ROLE};",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {RUNTIME_ROLE};",
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations ("
        "version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());",
    ]


APPLIED_VERSIONS_SQL = "SELECT version FROM neuroedge.schema_migrations"
RECORD_VERSION_SQL = "INSERT INTO neuroedge.schema_migrations (version, name) VALUES ($1, $2)"


def pending(applied: set[int]) -> list[Migration]:
    """Migrations not yet applied, in order. Pure: the executor passes what the catalog says."""
    return [m for m in MIGRATIONS if m.version not in applied]
