"""User administration (admin role): create, list (keyset pagination), disable."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from neuroedge_runtime import bodies, keys, problems
from neuroedge_runtime.auth import passwords, store
from neuroedge_runtime.auth.roles import Role
from neuroedge_runtime.tenancy import db


class CreateUser(BaseModel):
    """A new user of the caller's tenant."""

    model_config = ConfigDict(extra="forbid")
    email: Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    password: Annotated[str, StringConstraints(min_length=8, max_length=1024)]
    role: Role = Role.MEMBER


class UserOut(BaseModel):
    """A user as the API shows it (never with its password hash)."""

    id: uuid.UUID
    email: str
    role: Role
    disabled: bool
    created_at: datetime


class ListQuery(BaseModel):
    """Pagination: `cursor` is the `next_cursor` of the previous page."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: uuid.UUID | None = None


class UserPage(BaseModel):
    """One page of users, ordered by id."""

    users: list[UserOut]
    next_cursor: uuid.UUID | None


def _out(user: store.User) -> UserOut:
    return UserOut(
        id=user.id, email=user.email, role=user.role, disabled=user.disabled, created_at=user.created_at
    )


async def create_user(request: web.Request) -> web.Response:
    """Create a user (409 when the email is taken in this tenant)."""
    body = await bodies.parse_json(request, CreateUser)
    tenant = request[keys.PRINCIPAL].tenant
    encoded = await request.app[keys.AUTH].kdf.run(passwords.hash_password, body.password)
    async with db.tenant_transaction(request.app[keys.POOL], tenant) as conn:
        user = await store.create_user(conn, tenant, body.email, encoded, body.role)
    if user is None:
        raise problems.conflict("a user with this email exists")
    return bodies.json_response(_out(user), status=201)


async def list_users(request: web.Request) -> web.Response:
    """One page of the tenant's users."""
    query = bodies.parse_query(request.query, ListQuery)
    tenant = request[keys.PRINCIPAL].tenant
    async with db.tenant_transaction(request.app[keys.POOL], tenant) as conn:
        users, cursor = await store.list_users(conn, tenant, query.limit, query.cursor)
    return bodies.json_response(UserPage(users=[_out(u) for u in users], next_cursor=cursor))


async def disable_user(request: web.Request) -> web.Response:
    """Disable a user and end its sessions (refresh tokens, and access tokens at once on every replica); an
    admin cannot disable itself."""
    principal = request[keys.PRINCIPAL]
    try:
        user_id = uuid.UUID(request.match_info["user_id"])
    except ValueError:
        raise problems.not_found("no such user") from None
    if user_id == principal.user_id:
        raise problems.conflict("an admin cannot disable itself")
    # Revoke first: should the database write fail, the user logs in again; the reverse order could leave a
    # disabled user's access tokens working until they expire.
    settings = request.app[keys.SETTINGS]
    keep = principal.info.access_token_ttl_seconds + settings.jwt_leeway_seconds + 1
    await request.app[keys.LIMITER].revoke(principal.tenant, user_id, keep)
    async with db.tenant_transaction(request.app[keys.POOL], principal.tenant) as conn:
        user = await store.disable_user(conn, principal.tenant, user_id)
    if user is None:
        raise problems.not_found("no such user")
    return bodies.json_response(_out(user))
