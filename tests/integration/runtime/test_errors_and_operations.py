"""Errors are problem+json with stable types and never a stack trace; limits, timeouts, request ids,
health, readiness, metrics, the OpenAPI document, and graceful shutdown of the real process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from runtime_helpers import Tenant, add_engine, bearer, login

from neuroedge_runtime import app as runtime_app
from neuroedge_runtime import keys, requestpath, routing, server
from neuroedge_runtime.engines import registry
from neuroedge_runtime.engines.base import Operation
from neuroedge_runtime.settings import RuntimeSettings

Client = TestClient[Any, Any]
PROBLEM = "application/problem+json"


async def problem(resp: Any, status: int, slug: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == PROBLEM
    body = dict(await resp.json())
    assert body["type"] == f"https://neuroedge.io/problems/{slug}"
    assert body["title"] and body["detail"] and body["status"] == status
    assert "Traceback" not in json.dumps(body)
    return body


async def test_malformed_json_is_400_naming_the_problem(client: Client) -> None:
    resp = await client.post(
        "/auth/login", data=b'{"tenant": "a",', headers={"Content-Type": "application/json"}
    )
    body = await problem(resp, 400, "malformed-request")
    assert body["detail"].startswith("malformed JSON: ") and "line 1 column 16" in body["detail"]
    resp = await client.post("/auth/login", data=b"\xff\xfe", headers={"Content-Type": "application/json"})
    await problem(resp, 400, "malformed-request")


async def test_nul_characters_and_non_standard_numbers_are_refused(client: Client) -> None:
    resp = await client.post("/auth/login", json={"tenant": "a", "email": "x\u0000@y.z", "password": "p"})
    assert "NUL" in (await problem(resp, 422, "invalid-request"))["detail"]
    resp = await client.post(
        "/auth/login", data=b'{"tenant": NaN}', headers={"Content-Type": "application/json"}
    )
    assert "NaN" in (await problem(resp, 400, "malformed-request"))["detail"]


async def test_wrong_shapes_and_media_types(client: Client) -> None:
    await problem(await client.post("/auth/login", json=[1, 2]), 422, "invalid-request")
    body = await problem(await client.post("/auth/login", json={"tenant": "a"}), 422, "invalid-request")
    assert sorted(e["loc"][0] for e in body["errors"]) == ["email", "password"]
    await problem(
        await client.post("/auth/login", data="x=1", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported-media-type",
    )


async def test_unknown_routes_and_methods(client: Client) -> None:
    await problem(await client.get("/nope"), 404, "not-found")
    resp = await client.delete("/auth/login")
    await problem(resp, 405, "method-not-allowed")
    assert "POST" in resp.headers["Allow"]
    # Only the resources of the path's first segment are asked (`requestpath.by_first_segment`): a path
    # template with a variable, a probe, another route of a known segment, the root.
    for method, path, allow in (
        ("DELETE", "/jobs/0123", "GET"),
        ("POST", "/health", "GET"),
        ("GET", "/engine/predict", "POST"),
        ("PUT", "/admin/users", "GET,POST"),
    ):
        resp = await client.request(method, path)
        await problem(resp, 405, "method-not-allowed")
        assert sorted(resp.headers["Allow"].split(",")) == allow.split(","), (path, resp.headers["Allow"])
    for path in ("/engine/nope", "/", "/jobs", "/%65ngine/predict/x"):
        await problem(await client.get(path), 404, "not-found")


async def test_body_size_limit(make_client: Any) -> None:
    client: Client = await make_client(max_body_bytes=1024)
    resp = await client.post("/auth/login", json={"tenant": "a", "email": "b@c.d", "password": "x" * 5000})
    await problem(resp, 413, "payload-too-large")


async def test_handler_timeout_is_504(settings: RuntimeSettings) -> None:
    app = runtime_app.init_app(replace(settings, request_timeout_seconds=0.2))

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    spec = routing.RouteSpec("GET", "/slow", slow, routing.PUBLIC, "Slow", "test")
    routing.install(app, [spec], requestpath.Steps(app[keys.METRICS], 0.2).wrap)
    async with TestClient(TestServer(app)) as client:
        body = await problem(await client.get("/slow"), 504, "timeout")
        assert "0.2s" in body["detail"]


async def test_unexpected_errors_are_a_generic_500(client: Client, make_tenant: Any, admin_pool: Any) -> None:
    class Boom:
        kind = "analytics"
        operation = Operation.ANALYZE

        async def __call__(self, config: Any, inputs: Any) -> Any:
            raise RuntimeError("secret internals /etc/passwd")

    tenant: Tenant = await make_tenant()
    await add_engine(admin_pool, tenant.name, "stats", "analytics", {})
    client.server.app[keys.ENGINES]._engines = registry.Registry(kinds={"analytics": Boom()})  # type: ignore[attr-defined]
    tokens = await login(client, tenant)
    resp = await client.post("/engine/analyze", json={"engine": "stats", "input": {}}, headers=bearer(tokens))
    body = await problem(resp, 500, "internal")
    assert "secret" not in json.dumps(body) and "RuntimeError" not in json.dumps(body)
    assert resp.headers["X-Request-ID"]


async def test_request_ids(client: Client) -> None:
    resp = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    resp = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert resp.headers["X-Request-ID"] != "bad id\twith spaces" and len(resp.headers["X-Request-ID"]) == 32
    resp = await client.get("/nope")
    assert resp.headers["X-Request-ID"]


async def test_successful_probes_are_counted_but_not_access_logged(
    client: Client, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="neuroedge_runtime.access")
    broken: Client = await make_client(redis_url="redis://127.0.0.1:1/0")
    for path in ("/health", "/ready", "/metrics", "/nope"):
        await client.get(path)
    assert (await broken.get("/ready")).status == 503
    logged = [
        (fields["path"], fields["status"])
        for record in caplog.records
        if record.name == "neuroedge_runtime.access"
        and isinstance(fields := getattr(record, "fields", None), dict)
    ]
    assert logged == [("/nope", 404), ("/ready", 503)]  # the failing probe is logged
    text = await (await client.get("/metrics")).text()
    assert 'neuroedge_http_requests_total{method="GET",route="/ready",status="200"} 1.0' in text


async def test_health_ready_and_metrics(client: Client, make_client: Any) -> None:
    assert await (await client.get("/health")).json() == {"status": "ok"}
    assert await (await client.get("/ready")).json() == {"status": "ready"}
    broken: Client = await make_client(redis_url="redis://127.0.0.1:1/0")
    assert (await broken.get("/health")).status == 200
    await problem(await broken.get("/ready"), 503, "unavailable")
    await client.get("/nope")
    text = await (await client.get("/metrics")).text()
    assert 'neuroedge_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'neuroedge_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert (
        'neuroedge_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/ready",status="200"}'
        in text
    )
    assert "neuroedge_http_requests_in_flight 1.0" in text  # the /metrics request itself


async def test_openapi_document_matches_the_routes(client: Client) -> None:
    doc = await (await client.get("/openapi.json")).json()
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    served = {
        (r.method, r.resource.canonical)
        for r in client.server.app.router.routes()
        if r.method != "HEAD" and r.resource is not None and r.name != requestpath.UNMATCHED
    }
    # The Open Inference Protocol routes (/v2) follow their own specification, not this document.
    oip = {route for route in served if route[1] == "/v2" or route[1].startswith("/v2/")}
    assert ("POST", "/v2/models/{name}/infer") in oip
    assert documented == served - oip
    login_op = doc["paths"]["/auth/login"]["post"]
    assert login_op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LoginRequest"
    }
    assert doc["paths"]["/admin/users"]["get"]["x-required-role"] == "admin"
    assert "security" not in doc["paths"]["/health"]["get"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_drains_in_flight_requests_on_stop(settings: RuntimeSettings) -> None:
    app = runtime_app.init_app(settings)
    started = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(1.0)
        return web.json_response({"done": True})

    app.router.add_get("/slow", slow)
    port, stop = free_port(), asyncio.Event()
    serving = asyncio.create_task(server.serve(app, "127.0.0.1", port, 10.0, stop))
    async with aiohttp.ClientSession() as session:
        for _ in range(50):
            try:
                await session.get(f"http://127.0.0.1:{port}/health")
                break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
        in_flight = asyncio.create_task(session.get(f"http://127.0.0.1:{port}/slow"))
        await started.wait()
        stop.set()  # what SIGTERM does
        resp = await in_flight
        assert resp.status == 200 and await resp.json() == {"done": True}
        await serving
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"http://127.0.0.1:{port}/health")


def test_the_cli_serves_logs_json_and_stops_on_sigterm(settings: RuntimeSettings, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "NEUROEDGE_CREDENTIALS_DIR": str(settings.credentials_dir),
        "NEUROEDGE_RUNTIME_PORT": str(port),
    }
    log = tmp_path / "runtime.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "neuroedge_runtime.cli", "api"],
            env=env,
            stderr=err,
            stdout=subprocess.DEVNULL,
        )
    try:
        import urllib.request  # noqa: PLC0415

        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
                    assert resp.headers["X-Request-ID"]
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(log.read_text()) from None
                import time  # noqa: PLC0415

                time.sleep(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=5) as resp:
            assert resp.status == 200  # access-logged (a successful probe, /health, is not)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("path") == "/openapi.json"]
    assert access and access[0]["status"] == 200 and access[0]["request_id"]
    assert not [r for r in records if r.get("path") == "/health"]
    assert any(r["msg"] == "runtime api stopped" for r in records)
    assert (
        settings.database_url.split("@")[0].split(":")[-1] not in log.read_text()
    )  # no password in the logs


def test_settings_from_env_names_missing_variables() -> None:
    with pytest.raises(KeyError, match="DATABASE_URL"):
        RuntimeSettings.from_env({"REDIS_URL": "redis://x"})
    parsed = RuntimeSettings.from_env(
        {"DATABASE_URL": "postgresql://x", "REDIS_URL": "redis://y", "NEUROEDGE_RUNTIME_PORT": "9000"}
    )
    assert parsed.port == 9000 and replace(parsed, port=1).port == 1
