"""bench/predict_floor.py, the floor `make bench` measures the runtime's predict against, does the work it
stands for: it answers what the runtime's predictive engine answers, and each request really goes to Redis
for the rate limits and the revocation check (a floor that skipped them would flatter the runtime's ratio)."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from neuroedge_runtime import ratelimit
from neuroedge_runtime.engines import base, predictive

FLOOR = Path(__file__).resolve().parents[3] / "bench" / "predict_floor.py"
BODY = {"engine": "score", "input": {"features": {f"f{i}": 0.5 * i for i in range(8)}}}
AUTH = {"Authorization": "Bearer a.b.c"}


def load_floor() -> ModuleType:
    spec = importlib.util.spec_from_file_location("predict_floor", FLOOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def floor(redis_url: str) -> AsyncIterator[tuple[ModuleType, TestClient[Any, Any]]]:
    module = load_floor()
    client: TestClient[Any, Any] = TestClient(TestServer(module.app(redis_url)))
    await client.start_server()
    yield module, client
    await client.close()


async def test_the_floor_answers_what_the_predictive_engine_answers(
    floor: tuple[ModuleType, TestClient[Any, Any]],
) -> None:
    module, client = floor
    response = await client.post("/engine/predict", json=BODY, headers=AUTH)
    assert response.status == 200, await response.text()
    expected = predictive.predict(
        base.parse_config(predictive.Config, module.CONFIG), predictive.Inputs(**BODY["input"])
    )
    assert await response.json() == {"engine": "score", "result": expected}
    assert response.headers["RateLimit-Limit"] == str(module.BURST)


async def test_each_request_goes_to_redis_for_limits_and_revocation(
    floor: tuple[ModuleType, TestClient[Any, Any]], redis_url: str
) -> None:
    module, client = floor
    tenant_key, user_key, revoked_key = ratelimit.keys(module.TENANT.tenant, module.USER)
    connection = aioredis.from_url(redis_url)
    try:
        arrivals = []  # each scope's theoretical arrival time, which every counted request moves on
        for _ in range(3):
            response = await client.post("/engine/predict", json=BODY, headers=AUTH)
            assert response.status == 200
            arrivals.append([int(await connection.get(key)) for key in (tenant_key, user_key)])
        assert arrivals == sorted(arrivals) and len({tuple(a) for a in arrivals}) == 3
        await connection.set(revoked_key, int(time.time()))  # the user disabled: tokens issued before
        revoked = await client.post("/engine/predict", json=BODY, headers=AUTH)
        assert revoked.status == 401
        assert (await client.post("/engine/predict", json=BODY)).status == 401  # no bearer token
    finally:
        await connection.delete(tenant_key, user_key, revoked_key)
        await connection.aclose()
