"""Login, refresh, logout, per-request authentication and the idempotent first-admin bootstrap.

Every failure that could tell an attacker whether a tenant or a user exists raises the same generic 401, and
the paths where nothing is found still verify a password against a dummy hash so that they take as long.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import asyncpg

from neuroedge_runtime import problems
from neuroedge_runtime.auth import kdf, passwords, refresh, store, tokens
from neuroedge_runtime.auth.roles import Role
from neuroedge_runtime.settings import RuntimeSettings
from neuroedge_runtime.tenancy import db
from neuroedge_runtime.tenancy.credentials import CredentialStore, TenantCredentials
from neuroedge_runtime.tenancy.registry import TenantInfo, TenantRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    """What login and refresh return."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    tenant: str
    user_id: uuid.UUID
    role: Role
    info: TenantInfo
    issued_at: int = 0
    """The access token's `iat` (checked against the user's revocation time)."""


class AuthService:
    """Authentication against one pool, credential store and registry."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        credentials: CredentialStore,
        registry: TenantRegistry,
        settings: RuntimeSettings,
    ) -> None:
        self._pool = pool
        self._credentials = credentials
        self._registry = registry
        self._settings = settings
        self._bootstrapped: set[tuple[str, str]] = set()
        self._verified = tokens.VerifiedTokens()
        self.kdf = kdf.HashingLimiter(settings.password_hash_slots, settings.password_hash_queue)

    async def _tenant(self, tenant: str) -> tuple[TenantCredentials, TenantInfo] | None:
        creds = self._credentials.get(tenant)
        if creds is None:
            return None
        info = await self._registry.get(tenant)
        if info is None or info.suspended:
            return None
        return creds, info

    async def login(self, tenant: str, email: str, password: str) -> TokenPair:
        """Tokens for a user whose password matches; a generic 401 otherwise."""
        found = await self._tenant(tenant)
        if found is None:
            await self.kdf.run(passwords.verify_password, password, passwords.DUMMY_HASH)
            raise problems.unauthorized("invalid tenant, email or password")
        creds, info = found
        await self.bootstrap_admin(creds)
        async with db.tenant_transaction(self._pool, tenant) as conn:
            row = await store.user_for_login(conn, tenant, email)
        user, encoded = row if row is not None else (None, passwords.DUMMY_HASH)
        matches = await self.kdf.run(passwords.verify_password, password, encoded)
        if user is None or not matches or user.disabled:
            raise problems.unauthorized("invalid tenant, email or password")
        refresh_token, token_hash = refresh.new_token(tenant)
        async with db.tenant_transaction(self._pool, tenant) as conn:
            await store.insert_refresh(
                conn,
                tenant,
                user_id=user.id,
                family_id=uuid.uuid4(),
                token_hash=token_hash,
                ttl_seconds=info.refresh_token_ttl_seconds,
            )
        return self._pair(creds, info, user.id, user.role, refresh_token)

    async def refresh(self, token: str) -> TokenPair:
        """Exchange a refresh token for new tokens, rotating it; a reused token revokes its whole family."""
        tenant = refresh.tenant_of(token)
        found = await self._tenant(tenant) if tenant else None
        if tenant is None or found is None:
            raise problems.unauthorized("invalid refresh token")
        creds, info = found
        new_token, new_hash = refresh.new_token(tenant)
        failure: str | None = None
        user: store.User | None = None
        async with db.tenant_transaction(self._pool, tenant) as conn:
            row = await store.lock_refresh(conn, tenant, refresh.token_hash(token))
            if row is None:
                failure = "invalid refresh token"
            elif row.used or row.revoked:
                revoked = await store.revoke_family(conn, tenant, row.family_id)
                log.warning(
                    "refresh token reuse in tenant %s: family %s revoked (%d live)",
                    tenant,
                    row.family_id,
                    revoked,
                )
                failure = "refresh token already used: the session is revoked"
            elif row.expired:
                failure = "refresh token expired"
            else:
                user = await store.user_by_id(conn, tenant, row.user_id)
                if user is None or user.disabled:
                    await store.revoke_family(conn, tenant, row.family_id)
                    failure = "invalid refresh token"
                else:
                    await store.mark_used(conn, tenant, row.id)
                    await store.insert_refresh(
                        conn,
                        tenant,
                        user_id=user.id,
                        family_id=row.family_id,
                        token_hash=new_hash,
                        ttl_seconds=info.refresh_token_ttl_seconds,
                    )
        # Raised only now, after the commit: a detected reuse must stay revoked.
        if failure is not None or user is None:
            raise problems.unauthorized(failure or "invalid refresh token")
        return self._pair(creds, info, user.id, user.role, new_token)

    async def logout(self, token: str) -> None:
        """Revoke the session (token family) of a refresh token; unknown tokens are silently ignored."""
        tenant = refresh.tenant_of(token)
        if tenant is None or self._credentials.get(tenant) is None:
            return
        async with db.tenant_transaction(self._pool, tenant) as conn:
            row = await store.lock_refresh(conn, tenant, refresh.token_hash(token))
            if row is not None:
                await store.revoke_family(conn, tenant, row.family_id)

    async def authenticate(self, bearer: str) -> Principal:
        """The principal of a request's access token, or a generic 401."""
        claims = self._verified.get(bearer, self._credentials, self._settings.jwt_leeway_seconds)
        if claims is None:
            try:
                tenant = tokens.unverified_tenant(bearer)
                creds = self._credentials.get(tenant)
                if creds is None:
                    raise tokens.TokenError("no credentials for the token's tenant")
                claims = tokens.verify(
                    bearer,
                    creds,
                    issuer=self._settings.jwt_issuer,
                    audience=self._settings.jwt_audience,
                    leeway_seconds=self._settings.jwt_leeway_seconds,
                )
            except tokens.TokenError as exc:
                log.info("access token rejected: %s", exc)
                raise problems.unauthorized("invalid access token") from None
            self._verified.put(bearer, claims, creds.version)
        info = await self._registry.get(claims.tenant)
        if info is None or info.suspended:
            raise problems.unauthorized("invalid access token")
        return Principal(claims.tenant, claims.user_id, claims.role, info, claims.issued_at)

    async def bootstrap_admin(self, creds: TenantCredentials) -> None:
        """Create the tenant's first admin from ADMIN_EMAIL/ADMIN_PASSWORD unless that email exists (once per
        credentials version; an existing user is never modified)."""
        marker = (creds.tenant, creds.version)
        if marker in self._bootstrapped or not creds.admin_email or not creds.admin_password:
            return
        if await self._registry.get(creds.tenant) is None:
            return
        encoded = await self.kdf.run(passwords.hash_password, creds.admin_password)
        async with db.tenant_transaction(self._pool, creds.tenant) as conn:
            created = await store.ensure_user(conn, creds.tenant, creds.admin_email, encoded, Role.ADMIN)
        if created:
            log.info("bootstrapped the first admin of tenant %s", creds.tenant)
        self._bootstrapped.add(marker)

    async def bootstrap_all(self) -> None:
        """Bootstrap the admin of every tenant with credentials (at startup); one failure stops no other."""
        for tenant in self._credentials.tenants():
            creds = self._credentials.get(tenant)
            if creds is None:
                continue
            try:
                await self.bootstrap_admin(creds)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("could not bootstrap the admin of tenant %s: %s", tenant, exc)

    def _pair(
        self, creds: TenantCredentials, info: TenantInfo, user_id: uuid.UUID, role: Role, refresh_token: str
    ) -> TokenPair:
        access = tokens.issue(
            creds,
            issuer=self._settings.jwt_issuer,
            audience=self._settings.jwt_audience,
            user_id=user_id,
            role=role,
            ttl_seconds=info.access_token_ttl_seconds,
        )
        return TokenPair(access, refresh_token, info.access_token_ttl_seconds)
