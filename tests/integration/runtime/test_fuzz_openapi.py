"""Fuzz the API from its own OpenAPI document (schemathesis): no 5xx, every error is problem+json, responses
match the documented status codes, media types and schemas, and schema-invalid requests are rejected.

The runtime runs in a thread with its own event loop (schemathesis calls it synchronously), against the real
PostgreSQL and Redis, with one tenant whose admin token authenticates every generated request.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import schemathesis
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from runtime_helpers import Tenant, write_credentials
from schemathesis import checks
from schemathesis.openapi import checks as openapi_checks  # noqa: F401  (registers the OpenAPI checks)

from neuroedge_operator.builders import pgvector as pgvector_ddl
from neuroedge_operator.db import migrate
from neuroedge_runtime import app as runtime_app
from neuroedge_runtime.settings import RuntimeSettings


@schemathesis.check
def errors_are_problem_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx response is application/problem+json with a stable type (OpenAI's error shape under
    /v1/, the OpenAI-compatible routes)."""
    if response.status_code >= 400:
        values = [v for k, v in response.headers.items() if k.lower() == "content-type"] or [""]
        content_type = values[0][0] if isinstance(values[0], list) else values[0]
        if str(case.path).startswith("/v1/"):
            assert content_type.startswith("application/json"), f"{response.status_code} as {content_type}"
            error = json.loads(response.content)["error"]
            assert set(error) == {"message", "type", "param", "code"} and error["message"] and error["type"]
            return None
        assert content_type.startswith("application/problem+json"), (
            f"{response.status_code} as {content_type}"
        )
        body = json.loads(response.content)
        assert body["type"].startswith("https://neuroedge.io/problems/") and body["title"] and body["detail"]
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _provision(database_url: str, tenant: Tenant) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate.migrate(conn)
        await conn.execute(
            "INSERT INTO neuroedge.tenants (tenant_id, rate_limit_rps, rate_limit_burst) "
            "VALUES ($1, 1e6, 1000000)",
            tenant.name,
        )
        storage = pgvector_ddl.storage_name(tenant.name, "docs")
        await conn.execute(
            "INSERT INTO neuroedge.vector_indexes VALUES ($1, 'docs', 'pgvector', 3, 'Cosine', $2)",
            tenant.name,
            storage,
        )
        for statement in pgvector_ddl.create_table_sql(storage, 3, "Cosine"):
            await conn.execute(statement)
        await conn.execute(
            "INSERT INTO neuroedge.engines (tenant_id, name, kind, config) VALUES "
            "($1, 'stats', 'analytics', '{}'), ($1, 'linear', 'predictive', '{\"weights\": {\"x\": 1}}')",
            tenant.name,
        )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def fuzz_target(
    runtime_database_url: str, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """A runtime in a background thread; yields its base URL and an admin access token."""
    credentials = Path(tmp_path_factory.mktemp("fuzz-credentials"))
    tenant = Tenant(
        f"fuzz-{secrets.token_hex(4)}",
        "admin@fuzz.example",
        secrets.token_urlsafe(12),
        {"k1": ed25519.Ed25519PrivateKey.generate()},
        "k1",
    )
    write_credentials(credentials, tenant)
    port = _free_port()
    ready: dict[str, str] = {}
    started, stop = threading.Event(), threading.Event()

    async def main() -> None:
        await _provision(database_url, tenant)
        settings_ = RuntimeSettings(
            database_url=runtime_database_url,
            redis_url=redis_url,
            credentials_dir=credentials,
            qdrant_location=":memory:",
            port=port,
            pool="fuzz",
            # Room for negative cases one item past a list's maximum (10,001 documents for /vector/ingest),
            # so that they reach validation (422) instead of the body limit (413).
            max_body_bytes=64 << 20,
        )
        runner = web.AppRunner(runtime_app.init_app(settings_))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        import aiohttp  # noqa: PLC0415

        async with aiohttp.ClientSession() as session:
            resp = await session.post(
                f"http://127.0.0.1:{port}/auth/login",
                json={"tenant": tenant.name, "email": tenant.admin_email, "password": tenant.admin_password},
            )
            ready["token"] = (await resp.json())["access_token"]
        started.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(60), "the fuzz target did not start"
    yield f"http://127.0.0.1:{port}", ready["token"]
    stop.set()
    thread.join(30)


WITHOUT_INPUT = {"/health", "/ready", "/metrics", "/openapi.json"}
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    errors_are_problem_json,
]


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_api_conforms_to_its_openapi_document(fuzz_target: tuple[str, str], mode: Any) -> None:
    base_url, token = fuzz_target
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16  # every route (schemathesis may skip the document itself)
    assert {"/engine/run", "/jobs/{job_id}"} <= {operation.path for operation in operations}
    for operation in operations:
        if mode == schemathesis.GenerationMode.NEGATIVE and operation.path in WITHOUT_INPUT:
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        # CI replays a fixed exploration (red CI = a regression); local runs explore anew each time, as
        # widely as FUZZ_EXAMPLES asks (25 examples per operation and mode by default).
        @settings(
            max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=bool(os.environ.get("CI")),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        run()
