"""Pure SQL builders for a tenant's database state: role, grants, row-level security policies, registry row.

Every identifier goes through `quote_ident` and every literal through `quote_literal`: tenant names are
validated upstream, but the SQL must stay safe even if they were not. Passwords never appear in SQL: roles
get a SCRAM-SHA-256 verifier computed here, so neither server logs nor `pg_stat_activity` ever show one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from neuroedge_operator.db import migrations

SCHEMA = migrations.SCHEMA
ROLE_PREFIX = "ne_tenant_"
POLICY_PREFIX = "tenant_"
SCRAM_ITERATIONS = 4096
DML = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
# Registries the operator (or, for model load reports and the LLM usage meter, the runtime) writes: a tenant's
# login role only reads them (it must not un-suspend itself, raise its own rate limits, fake a model's status
# or rewrite its LLM usage). Every other tenant-scoped table is the tenant's own data.
READ_ONLY_TABLES = frozenset({"tenants", "vector_indexes", "engines", "engine_model_reports", "llm_usage"})
TABLE_PRIVILEGES: Mapping[str, frozenset[str]] = {
    name: frozenset({"SELECT"}) if name in READ_ONLY_TABLES else DML for name in migrations.TENANT_TABLES
}
# Serialises the operator's catalog writes: concurrent GRANTs on one table fail with "tuple concurrently
# updated", and 100 tenants created at once would otherwise race on the same tables' ACLs.
DDL_LOCK_KEY = 0x4E45_5444  # "NETD"


def quote_ident(name: str) -> str:
    """A safely double-quoted SQL identifier."""
    if not name or "\x00" in name:
        raise ValueError(f"invalid SQL identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A safely quoted SQL string literal (escape-string syntax when it contains a backslash)."""
    if "\x00" in value:
        raise ValueError("SQL literals cannot contain NUL")
    quoted = value.replace("'", "''")
    if "\\" in quoted:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


def table(name: str) -> str:
    """A schema-qualified, quoted table name."""
    return f"{quote_ident(SCHEMA)}.{quote_ident(name)}"


def role_name(tenant: str) -> str:
    """The tenant's login role: `ne_tenant_<t with - replaced by _>` (docs/architecture.md)."""
    return ROLE_PREFIX + tenant.replace("-", "_")


def policy_name(tenant: str) -> str:
    """The per-tenant row-level security policy on each tenant table."""
    return POLICY_PREFIX + tenant


def policy_expression(tenant: str) -> str:
    """The policy predicate as PostgreSQL prints it back in `pg_policies`, so the planner can compare."""
    return f"(tenant_id = {quote_literal(tenant)}::text)"


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """A SCRAM-SHA-256 verifier as PostgreSQL stores it in `pg_authid.rolpassword`."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


def scram_matches(verifier: str | None, password: str) -> bool:
    """Whether a stored verifier was made from `password` (False for anything that is not SCRAM)."""
    if not verifier or not verifier.startswith("SCRAM-SHA-256$"):
        return False
    try:
        head, _keys = verifier.removeprefix("SCRAM-SHA-256$").split("$", 1)
        iterations, salt = head.split(":", 1)
        expected = scram_verifier(password, base64.b64decode(salt), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(expected, verifier)


def _role_options(login: bool) -> str:
    return (
        f"{'LOGIN' if login else 'NOLOGIN'} NOBYPASSRLS NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE "
        "NOREPLICATION"
    )


def create_role(role: str, verifier: str, login: bool) -> str:
    return f"CREATE ROLE {quote_ident(role)} {_role_options(login)} PASSWORD {quote_literal(verifier)}"


def alter_role_options(role: str, login: bool) -> str:
    return f"ALTER ROLE {quote_ident(role)} {_role_options(login)}"


def alter_role_password(role: str, verifier: str) -> str:
    return f"ALTER ROLE {quote_ident(role)} PASSWORD {quote_literal(verifier)}"


def drop_role(role: str) -> str:
    return f"DROP ROLE IF EXISTS {quote_ident(role)}"


def revoke_membership(group: str, role: str) -> str:
    return f"REVOKE {quote_ident(group)} FROM {quote_ident(role)}"


def terminate_sessions(role: str) -> str:
    """Ends the role's open sessions: disabling LOGIN alone would leave them connected."""
    return (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608 - quoted literal
        f"WHERE usename = {quote_literal(role)} AND pid <> pg_backend_pid()"
    )


def grant_schema_usage(role: str) -> str:
    return f"GRANT USAGE ON SCHEMA {quote_ident(SCHEMA)} TO {quote_ident(role)}"


def revoke_schema_usage(role: str) -> str:
    return f"REVOKE USAGE ON SCHEMA {quote_ident(SCHEMA)} FROM {quote_ident(role)}"


def grant_table(role: str, name: str, privileges: frozenset[str]) -> str:
    return f"GRANT {', '.join(sorted(privileges))} ON {table(name)} TO {quote_ident(role)}"


def revoke_table(role: str, name: str, privileges: frozenset[str]) -> str:
    return f"REVOKE {', '.join(sorted(privileges))} ON {table(name)} FROM {quote_ident(role)}"


def create_policy(name: str, tenant: str, role: str) -> str:
    expr = policy_expression(tenant)
    return (
        f"CREATE POLICY {quote_ident(policy_name(tenant))} ON {table(name)} AS PERMISSIVE FOR ALL "
        f"TO {quote_ident(role)} USING {expr} WITH CHECK {expr}"
    )


def drop_policy(name: str, tenant: str) -> str:
    return f"DROP POLICY IF EXISTS {quote_ident(policy_name(tenant))} ON {table(name)}"


REGISTRY_COLUMNS = (
    "suspended",
    "access_token_ttl_seconds",
    "refresh_token_ttl_seconds",
    "rate_limit_rps",
    "rate_limit_burst",
    "llm_tokens_per_minute",
    "llm_tokens_per_day",
)


def upsert_registry() -> str:
    """Parameterised ($1 tenant, then REGISTRY_COLUMNS in order) insert-or-update of the registry row."""
    columns = ", ".join(REGISTRY_COLUMNS)
    params = ", ".join(f"${i}" for i in range(2, len(REGISTRY_COLUMNS) + 2))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in REGISTRY_COLUMNS)
    return (
        f"INSERT INTO {table('tenants')} (tenant_id, {columns}) VALUES ($1, {params}) "  # noqa: S608
        f"ON CONFLICT (tenant_id) DO UPDATE SET {updates}, updated_at = now()"
    )


def delete_registry() -> str:
    """Deletes the registry row ($1 tenant); the foreign keys cascade to every row of the tenant."""
    return f"DELETE FROM {table('tenants')} WHERE tenant_id = $1"  # noqa: S608 - constant, quoted
