"""SQL for users and refresh tokens. Every function runs on a connection already inside a tenant transaction,
so RLS limits it to that tenant even if a statement forgot its `tenant_id` condition (they never do)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from neuroedge_runtime.auth.roles import Role


@dataclass(frozen=True)
class User:
    """A user row, without its password hash."""

    id: uuid.UUID
    email: str
    role: Role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class RefreshRow:
    """The state of a presented refresh token."""

    id: uuid.UUID
    user_id: uuid.UUID
    family_id: uuid.UUID
    expires_at: datetime
    used: bool
    revoked: bool
    expired: bool


def _user(row: asyncpg.Record) -> User:
    return User(row["id"], row["email"], Role(row["role"]), row["disabled"], row["created_at"])


async def user_for_login(conn: asyncpg.Connection, tenant: str, email: str) -> tuple[User, str] | None:
    """The user with this email (case-insensitive) and its password hash."""
    row = await conn.fetchrow(
        "SELECT id, email, role, disabled, created_at, password_hash FROM neuroedge.users "
        "WHERE tenant_id = $1 AND lower(email) = lower($2)",
        tenant,
        email,
    )
    return None if row is None else (_user(row), row["password_hash"])


async def user_by_id(conn: asyncpg.Connection, tenant: str, user_id: uuid.UUID) -> User | None:
    """The user with this id in this tenant."""
    row = await conn.fetchrow(
        "SELECT id, email, role, disabled, created_at FROM neuroedge.users WHERE tenant_id = $1 AND id = $2",
        tenant,
        user_id,
    )
    return None if row is None else _user(row)


async def create_user(
    conn: asyncpg.Connection, tenant: str, email: str, password_hash: str, role: Role
) -> User | None:
    """A new user, or None when the email is already taken in this tenant."""
    row = await conn.fetchrow(
        "INSERT INTO neuroedge.users (tenant_id, email, password_hash, role) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (tenant_id, lower(email)) DO NOTHING RETURNING id, email, role, disabled, created_at",
        tenant,
        email,
        password_hash,
        role.value,
    )
    return None if row is None else _user(row)


async def list_users(
    conn: asyncpg.Connection, tenant: str, limit: int, after: uuid.UUID | None
) -> tuple[list[User], uuid.UUID | None]:
    """One page of users ordered by id (keyset pagination) and the cursor of the next page, if any."""
    rows = await conn.fetch(
        "SELECT id, email, role, disabled, created_at FROM neuroedge.users "
        "WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3",
        tenant,
        after,
        limit + 1,
    )
    users = [_user(r) for r in rows[:limit]]
    return users, (users[-1].id if len(rows) > limit else None)


async def disable_user(conn: asyncpg.Connection, tenant: str, user_id: uuid.UUID) -> User | None:
    """Disable a user and revoke its refresh tokens; None when there is no such user."""
    row = await conn.fetchrow(
        "UPDATE neuroedge.users SET disabled = true, updated_at = now() WHERE tenant_id = $1 AND id = $2 "
        "RETURNING id, email, role, disabled, created_at",
        tenant,
        user_id,
    )
    if row is None:
        return None
    await conn.execute(
        "UPDATE neuroedge.refresh_tokens SET revoked_at = now() "
        "WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        tenant,
        user_id,
    )
    return _user(row)


async def insert_refresh(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    token_hash: bytes,
    ttl_seconds: int,
) -> None:
    """Store a new refresh token of `family_id`."""
    await conn.execute(
        "INSERT INTO neuroedge.refresh_tokens (tenant_id, user_id, family_id, token_hash, expires_at) "
        "VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
        tenant,
        user_id,
        family_id,
        token_hash,
        float(ttl_seconds),
    )


async def lock_refresh(conn: asyncpg.Connection, tenant: str, token_hash: bytes) -> RefreshRow | None:
    """The presented token's row, locked so that two concurrent uses cannot both rotate it."""
    row = await conn.fetchrow(
        "SELECT id, user_id, family_id, expires_at, used_at IS NOT NULL AS used, "
        "revoked_at IS NOT NULL AS revoked, expires_at <= now() AS expired "
        "FROM neuroedge.refresh_tokens WHERE tenant_id = $1 AND token_hash = $2 FOR UPDATE",
        tenant,
        token_hash,
    )
    if row is None:
        return None
    return RefreshRow(
        row["id"],
        row["user_id"],
        row["family_id"],
        row["expires_at"],
        row["used"],
        row["revoked"],
        row["expired"],
    )


async def mark_used(conn: asyncpg.Connection, tenant: str, token_id: uuid.UUID) -> None:
    """Record that a token was exchanged (using it again is then a reuse)."""
    await conn.execute(
        "UPDATE neuroedge.refresh_tokens SET used_at = now() WHERE tenant_id = $1 AND id = $2",
        tenant,
        token_id,
    )


async def revoke_family(conn: asyncpg.Connection, tenant: str, family_id: uuid.UUID) -> int:
    """Revoke every token of a family; returns how many were still live."""
    result = await conn.execute(
        "UPDATE neuroedge.refresh_tokens SET revoked_at = now() "
        "WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL",
        tenant,
        family_id,
    )
    return int(result.split()[-1])


async def ensure_user(
    conn: asyncpg.Connection, tenant: str, email: str, password_hash: str, role: Role
) -> bool:
    """Create the user unless one with this email exists (idempotent bootstrap); True when created."""
    return await create_user(conn, tenant, email, password_hash, role) is not None
