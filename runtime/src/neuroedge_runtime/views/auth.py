"""Login, refresh, logout and the tenants' public keys."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from neuroedge_runtime import bodies, keys, problems
from neuroedge_runtime.auth.service import TokenPair


class Strict(BaseModel):
    """Unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    """Credentials of a user of a tenant."""

    tenant: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class RefreshRequest(Strict):
    """A refresh token (rotated by /auth/refresh, revoked by /auth/logout)."""

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class TokenResponse(BaseModel):
    """A short-lived access token and the refresh token to get the next one."""

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class JwksQuery(Strict):
    """Whose keys."""

    tenant: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Jwks(BaseModel):
    """A JSON Web Key Set (RFC 7517)."""

    keys: list[dict[str, str]]


def _tokens(pair: TokenPair) -> web.Response:
    body = TokenResponse(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        token_type=pair.token_type,
        expires_in=pair.expires_in,
    )
    return bodies.json_response(body, headers={"Cache-Control": "no-store"})


async def login(request: web.Request) -> web.Response:
    """Exchange tenant, email and password for tokens."""
    body = await bodies.parse_json(request, LoginRequest)
    return _tokens(await request.app[keys.AUTH].login(body.tenant, body.email, body.password))


async def refresh(request: web.Request) -> web.Response:
    """Exchange a refresh token for new tokens (the presented one is used up)."""
    body = await bodies.parse_json(request, RefreshRequest)
    return _tokens(await request.app[keys.AUTH].refresh(body.refresh_token))


async def logout(request: web.Request) -> web.Response:
    """End the session of a refresh token (idempotent)."""
    body = await bodies.parse_json(request, RefreshRequest)
    await request.app[keys.AUTH].logout(body.refresh_token)
    return web.Response(status=204)


async def jwks(request: web.Request) -> web.Response:
    """The public keys that verify a tenant's access tokens (current and not yet retired)."""
    query = bodies.parse_query(request.query, JwksQuery)
    creds = request.app[keys.CREDENTIALS].get(query.tenant)
    if creds is None:
        raise problems.unauthorized("unknown tenant")
    doc = Jwks(keys=[{k: str(v) for k, v in key.public_jwk.items()} for key in creds.keys.values()])
    return bodies.json_response(doc, headers={"Cache-Control": "max-age=300"})
