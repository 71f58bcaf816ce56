"""Helpers of the runtime API tests (plain functions; the fixtures are in conftest.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import openai
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm

from neuroedge_operator.builders import pgvector as pgvector_ddl


@dataclass
class Tenant:
    """A provisioned test tenant: registry row, credentials directory, first admin."""

    name: str
    admin_email: str
    admin_password: str
    keys: dict[str, ed25519.Ed25519PrivateKey] = field(default_factory=dict)
    active: str = ""


def key_entry(kid: str, key: ed25519.Ed25519PrivateKey, verify_until: str | None = None) -> dict[str, Any]:
    """One entry of JWT_SIGNING_KEYS."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "kid": kid,
        "private_key_pem": pem,
        "public_jwk": json.loads(OKPAlgorithm.to_jwk(key.public_key())),
        "created_at": datetime.now(UTC).isoformat(),
        "verify_until": verify_until,
    }


def write_credentials(root: Path, tenant: Tenant, retired: dict[str, str] | None = None) -> None:
    """The tenant's mounted Secret: one file per key."""
    directory = root / tenant.name
    directory.mkdir(parents=True, exist_ok=True)
    retired = retired or {}
    doc = {"active": tenant.active, "keys": [key_entry(k, v, retired.get(k)) for k, v in tenant.keys.items()]}
    files = {
        "TENANT": tenant.name,
        "JWT_SIGNING_KEYS": json.dumps(doc),
        "ADMIN_EMAIL": tenant.admin_email,
        "ADMIN_PASSWORD": tenant.admin_password,
    }
    for name, value in files.items():
        tmp = directory / f".{name}.tmp"
        tmp.write_text(value)
        tmp.replace(directory / name)


async def login(
    client: TestClient[Any, Any], tenant: Tenant, email: str | None = None, password: str | None = None
) -> dict[str, Any]:
    """Log in (the tenant's admin by default) and return the token response."""
    resp = await client.post(
        "/auth/login",
        json={
            "tenant": tenant.name,
            "email": email or tenant.admin_email,
            "password": password or tenant.admin_password,
        },
    )
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def create_user(
    client: TestClient[Any, Any],
    admin: dict[str, Any],
    email: str,
    role: str,
    password: str = "correct horse battery",
) -> dict[str, Any]:
    resp = await client.post(
        "/admin/users", json={"email": email, "password": password, "role": role}, headers=bearer(admin)
    )
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def add_index(
    admin_pool: asyncpg.Pool, tenant: str, name: str, backend: str, dimension: int, distance: str = "Cosine"
) -> str:
    """Register a VectorIndex and create its pgvector table (what the VectorIndex reconciler does)."""
    storage = pgvector_ddl.storage_name(tenant, name)
    await admin_pool.execute(
        "INSERT INTO neuroedge.vector_indexes (tenant_id, name, backend, dimension, distance, storage_name) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        tenant,
        name,
        backend,
        dimension,
        distance,
        storage,
    )
    if backend == "pgvector":
        async with admin_pool.acquire() as conn:
            for statement in pgvector_ddl.create_table_sql(storage, dimension, distance):
                await conn.execute(statement)
    return storage


async def add_engine(
    admin_pool: asyncpg.Pool, tenant: str, name: str, kind: str, config: dict[str, Any]
) -> None:
    """Register an Engine (what the Engine reconciler does)."""
    await admin_pool.execute(
        "INSERT INTO neuroedge.engines (tenant_id, name, kind, config) VALUES ($1, $2, $3, $4::jsonb)",
        tenant,
        name,
        kind,
        json.dumps(config),
    )


async def add_model_engine(pool: asyncpg.Pool, tenant: str, name: str, model: dict[str, Any]) -> None:
    """Register an Engine with `spec.model` (what the Engine reconciler writes)."""
    await pool.execute(
        "INSERT INTO neuroedge.engines (tenant_id, name, kind, config, model) "
        "VALUES ($1, $2, 'predictive', '{}'::jsonb, $3::jsonb)",
        tenant,
        name,
        json.dumps(model),
    )


async def set_embedding(
    admin_pool: asyncpg.Pool,
    tenant: str,
    name: str,
    model: str = "wordllama-256",
    provider: str = "builtin",
    base_url: str | None = None,
    api_key: str | None = None,
) -> None:
    """Give a registered index an embedding model (as the VectorIndex reconciler does for spec.embedding)."""
    await admin_pool.execute(
        "UPDATE neuroedge.vector_indexes SET embedding_model = $3, embedding_provider = $4, "
        "embedding_base_url = $5, embedding_api_key = $6 WHERE tenant_id = $1 AND name = $2",
        tenant,
        name,
        model,
        provider,
        base_url,
        api_key,
    )


_OPEN_OPENAI_CLIENTS: list[openai.AsyncOpenAI] = []


def openai_client(client: TestClient[Any, Any], api_key: str, **options: Any) -> openai.AsyncOpenAI:
    """An `openai.AsyncOpenAI` of the runtime under test, closed when the test ends (`close_openai_clients`).

    Never leave one to the garbage collector: when an unclosed client is collected in a reference cycle, the
    finalizers of the cycle's objects all run, so its idle connection's socket is closed by the transport's
    finalizer while the transport still counts as open, and the client's own finalizer then schedules
    `aclose()`. By the time that runs the freed fd number may be the next test's server socket, and closing
    the transport removes that socket's reader from the event loop: the server never accepts again (the
    intermittent hang of test_disconnect's login)."""
    created = openai.AsyncOpenAI(base_url=str(client.make_url("/v1")), api_key=api_key, **options)
    _OPEN_OPENAI_CLIENTS.append(created)
    return created


async def close_openai_clients() -> None:
    """Close every client `openai_client` made (their connections' fds are still their own)."""
    while _OPEN_OPENAI_CLIENTS:
        await _OPEN_OPENAI_CLIENTS.pop().close()
