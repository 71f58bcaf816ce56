"""Fixtures of the runtime API tests: the schema, a runtime login role, tenants with generated credentials,
and apps built from the real factory against the test PostgreSQL and Redis (Qdrant in local mode)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import ed25519
from runtime_helpers import Tenant, close_openai_clients, write_credentials

from neuroedge_operator.db import migrate
from neuroedge_runtime import app as runtime_app
from neuroedge_runtime.settings import RuntimeSettings

RUNTIME_ROLE_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(autouse=True)
async def _openai_clients_closed() -> AsyncIterator[None]:
    """The OpenAI clients a test made are closed when it ends (`runtime_helpers.openai_client` says why)."""
    yield
    await close_openai_clients()


@pytest.fixture(scope="session")
async def admin_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """Superuser pool with the schema migrated (what the operator would do)."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate.migrate(conn)
        await conn.execute(
            "DO $$ BEGIN CREATE ROLE rt_test LOGIN IN ROLE neuroedge_runtime; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$;"
        )
        await conn.execute(f"ALTER ROLE rt_test PASSWORD '{RUNTIME_ROLE_PASSWORD}'")
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def runtime_database_url(database_url: str, admin_pool: asyncpg.Pool) -> str:
    """DSN of the runtime's login role (a member of neuroedge_runtime: subject to RLS)."""
    parts = urlsplit(database_url)
    netloc = f"rt_test:{RUNTIME_ROLE_PASSWORD}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@pytest.fixture
def credentials_dir(tmp_path: Path) -> Path:
    path = tmp_path / "credentials"
    path.mkdir()
    return path


MakeTenant = Callable[..., Awaitable[Tenant]]


@pytest.fixture
def make_tenant(admin_pool: asyncpg.Pool, credentials_dir: Path) -> MakeTenant:
    """Create a tenant (registry row and credentials) with a unique name."""

    async def make(prefix: str = "t", **columns: Any) -> Tenant:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        kid = f"{name}-k1"
        tenant = Tenant(
            name,
            f"admin@{name}.example",
            secrets.token_urlsafe(12),
            {kid: ed25519.Ed25519PrivateKey.generate()},
            kid,
        )
        names = ", ".join(["tenant_id", *columns])
        params = ", ".join(f"${i + 1}" for i in range(len(columns) + 1))
        await admin_pool.execute(
            f"INSERT INTO neuroedge.tenants ({names}) VALUES ({params})", name, *columns.values()
        )
        write_credentials(credentials_dir, tenant)
        return tenant

    return make


@pytest.fixture
def settings(runtime_database_url: str, redis_url: str, credentials_dir: Path) -> RuntimeSettings:
    """Settings of a test runtime: no caches, so tests see changes at once."""
    return RuntimeSettings(
        database_url=runtime_database_url,
        redis_url=redis_url,
        credentials_dir=credentials_dir,
        qdrant_location=":memory:",
        registry_cache=False,
        credentials_check_seconds=0,
        db_pool_max=4,
    )


MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def make_client(settings: RuntimeSettings) -> AsyncIterator[MakeClient]:
    """Start an app from the factory (optionally with changed settings) and return a client of it."""
    clients: list[TestClient[Any, Any]] = []

    async def make(**changes: Any) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(
            TestServer(runtime_app.init_app(replace(settings, **changes)))
        )
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client()
