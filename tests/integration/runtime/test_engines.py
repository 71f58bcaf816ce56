"""/engine/predict and /engine/analyze route to the tenant's registered Engine of the matching kind."""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, add_engine, bearer, create_user, login

Client = TestClient[Any, Any]


@pytest.fixture
async def env(client: Client, make_tenant: Any, admin_pool: Any) -> tuple[Client, dict[str, Any]]:
    tenant: Tenant = await make_tenant()
    await add_engine(
        admin_pool,
        tenant.name,
        "churn",
        "predictive",
        {"model": "logistic", "weights": {"tenure": -0.5, "tickets": 1.2}, "bias": 0.3},
    )
    await add_engine(admin_pool, tenant.name, "helper", "agent", {"facts": {"capital of France": "Paris"}})
    await add_engine(
        admin_pool,
        tenant.name,
        "faq",
        "conversation",
        {
            "documents": [
                {"id": "shipping", "text": "Shipping takes three days. Express shipping takes one day."},
                {"id": "returns", "text": "Returns are free within thirty days of delivery."},
            ],
            "answer_template": "{answer} (source: {source})",
        },
    )
    await add_engine(admin_pool, tenant.name, "stats", "analytics", {"percentiles": [50, 90]})
    await add_engine(admin_pool, tenant.name, "broken", "predictive", {"weights": "not a mapping"})
    admin = await login(client, tenant)
    await create_user(client, admin, "m@example.com", "member")
    await create_user(client, admin, "v@example.com", "viewer")
    return client, {
        "member": await login(client, tenant, "m@example.com", "correct horse battery"),
        "viewer": await login(client, tenant, "v@example.com", "correct horse battery"),
    }


async def call(client: Client, tokens: dict[str, Any], path: str, engine: str, data: dict[str, Any]) -> Any:
    return await client.post(path, json={"engine": engine, "input": data}, headers=bearer(tokens))


async def test_predictive_engine_computes_the_logistic_model(env: Any) -> None:
    client, tokens = env
    resp = await call(
        client, tokens["member"], "/engine/predict", "churn", {"features": {"tenure": 2, "tickets": 3}}
    )
    assert resp.status == 200
    result = (await resp.json())["result"]
    z = 0.3 - 0.5 * 2 + 1.2 * 3
    assert result["score"] == pytest.approx(1 / (1 + math.exp(-z)))
    assert result["label"] == "positive"
    assert result["contributions"] == {"tenure": -1.0, "tickets": pytest.approx(3.6)}


async def test_agent_engine_plans_and_uses_tools(env: Any) -> None:
    client, tokens = env
    resp = await call(
        client,
        tokens["member"],
        "/engine/predict",
        "helper",
        {"task": "what is (2 + 3) * 4 then result / 8; convert 10 km to mi"},
    )
    result = (await resp.json())["result"]
    assert [s["tool"] for s in result["steps"]] == ["calculator", "calculator", "convert"]
    assert [s["output"] for s in result["steps"]][:2] == [20.0, 2.5]
    assert result["answer"] == pytest.approx(6.2137, abs=1e-4)
    resp = await call(
        client, tokens["member"], "/engine/predict", "helper", {"task": "tell me the capital of France"}
    )
    assert (await resp.json())["result"]["answer"] == "Paris"


async def test_conversation_engine_retrieves_and_keeps_history(env: Any) -> None:
    client, tokens = env
    first = await call(
        client, tokens["member"], "/engine/predict", "faq", {"message": "How long does shipping take?"}
    )
    result = (await first.json())["result"]
    assert result["reply"] == "Shipping takes three days. (source: shipping)"
    follow = await call(
        client,
        tokens["member"],
        "/engine/predict",
        "faq",
        {"message": "what about express?", "history": result["history"]},
    )
    result = (await follow.json())["result"]
    assert result["reply"] == "Express shipping takes one day. (source: shipping)"
    assert [t["role"] for t in result["history"]] == ["user", "assistant", "user", "assistant"]
    other = await call(
        client, tokens["member"], "/engine/predict", "faq", {"message": "quantum chromodynamics"}
    )
    assert (await other.json())["result"]["intent"] == "fallback"


async def test_analytics_engine_describes_the_series(env: Any) -> None:
    client, tokens = env
    series = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    resp = await call(client, tokens["member"], "/engine/analyze", "stats", {"series": series})
    result = (await resp.json())["result"]
    assert result["mean"] == pytest.approx(statistics.fmean(series))
    assert result["stdev"] == pytest.approx(statistics.stdev(series))
    assert result["median"] == statistics.median(series)
    assert result["percentiles"]["p50"] == statistics.median(series)
    assert (result["min"], result["max"], result["count"]) == (1.0, 9.0, 8)


async def test_engine_errors(env: Any) -> None:
    client, tokens = env
    member = tokens["member"]
    resp = await call(client, member, "/engine/predict", "churn", {"features": {"tenure": 2}})
    problem = await resp.json()
    assert resp.status == 422 and ["input", "features", "tickets"] in [e["loc"] for e in problem["errors"]]
    assert (await call(client, member, "/engine/predict", "nope", {})).status == 404
    assert (await call(client, member, "/engine/analyze", "churn", {"features": {}})).status == 409
    assert (await call(client, member, "/engine/predict", "stats", {"series": [1]})).status == 409
    assert (await call(client, member, "/engine/analyze", "stats", {"series": []})).status == 422
    assert (await call(client, member, "/engine/predict", "helper", {"task": "1 / 0"})).status == 422
    assert (await call(client, member, "/engine/predict", "broken", {"features": {}})).status == 422
    assert (await call(client, tokens["viewer"], "/engine/predict", "churn", {"features": {}})).status == 403
