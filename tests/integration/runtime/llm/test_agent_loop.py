"""The LLM agent (an `agent` Engine with `spec.llm`): a tool-calling loop against a real llama-server whose
tools are the tenant's own engines and indexes, every step metered against the tenant's token budget.

The upstream is llama-server with a scripted model (`llm_models.write_scripted_llama`): it answers every
prompt with one Hermes tool call, which llama-server itself parses into OpenAI `tool_calls`. This
llama-server does not constrain a random model to a tool call, even with `tool_choice: "required"`, so the
scripted model is the honest way to make a real upstream call the tool a test names. Because it calls the
tool again on every step, runs end at their bounds: the last allowed step is sent with `tool_choice: "none"`,
where llama-server returns the text as the answer.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from llm_helpers import llm_config
from runtime_helpers import Tenant, add_engine, add_index, bearer, login, set_embedding

pytestmark = pytest.mark.services
Client = TestClient[Any, Any]
SCORER = {"weights": '{"x": 2.0}', "bias": "1"}
SCORE_INPUT = {"features": {"x": 3}}


def agent_config(base_url: str, **settings: Any) -> dict[str, str]:
    config = llm_config(base_url)
    config.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in settings.items()})
    return config


async def predict(client: Client, tokens: dict[str, Any], engine: str, inputs: dict[str, Any]) -> Any:
    resp = await client.post(
        "/engine/predict", json={"engine": engine, "input": inputs}, headers=bearer(tokens)
    )
    return resp.status, await resp.json(), resp.headers


async def usage_of(client: Client, tokens: dict[str, Any], engine: str) -> dict[str, Any]:
    resp = await client.get("/usage", headers=bearer(tokens))
    assert resp.status == 200, await resp.text()
    rows = [r for r in (await resp.json())["data"] if r["engine"] == engine]
    assert len(rows) == 1, rows
    return dict(rows[0])


async def test_the_agent_calls_a_tenant_engine_and_records_every_step(
    client: Client, make_tenant: Any, admin_pool: Any, scripted_llama: Any
) -> None:
    llama = scripted_llama("predict", {"engine": "scorer", "input": SCORE_INPUT})
    tenant: Tenant = await make_tenant()
    await add_engine(admin_pool, tenant.name, "scorer", "predictive", SCORER)
    config = agent_config(llama.base_url, tools=["predict", "calculator"], engines=["scorer"], max_steps="3")
    await add_engine(admin_pool, tenant.name, "helper", "agent", config)
    tokens = await login(client, tenant)

    status, body, _ = await predict(client, tokens, "helper", {"task": "Score x = 3."})
    _, direct, _ = await predict(client, tokens, "scorer", SCORE_INPUT)

    assert status == 200, body
    result = body["result"]
    assert result["stopped"] == "answer"
    assert len(result["steps"]) == 3
    for step in result["steps"][:2]:
        (call,) = step["tool_calls"]
        assert call["tool"] == "predict"
        assert json.loads(call["arguments"]) == {"engine": "scorer", "input": SCORE_INPUT}
        assert call["result"] == direct["result"]
        assert call["result"]["linear_score"] == 7.0
    assert result["answer"] == result["steps"][2]["content"] and "<tool_call>" in result["answer"]
    prompts = [s["tokens"]["prompt"] for s in result["steps"]]
    completions = [s["tokens"]["completion"] for s in result["steps"]]
    assert all(p > 0 for p in prompts) and prompts[0] < prompts[1] < prompts[2]
    assert result["usage"] == {
        "prompt_tokens": sum(prompts),
        "completion_tokens": sum(completions),
        "total_tokens": sum(prompts) + sum(completions),
    }
    # Metering equals what the upstream reported, one request per step.
    assert completions == [2, 2, 2]
    assert llama.metric("llamacpp:tokens_predicted_total") == sum(completions)
    metered = await usage_of(client, tokens, "helper")
    assert metered["requests"] == 3
    assert metered["prompt_tokens"] == sum(prompts) and metered["completion_tokens"] == sum(completions)


async def test_a_tool_call_outside_the_tenant_is_refused(
    client: Client, make_tenant: Any, admin_pool: Any, scripted_llama: Any
) -> None:
    """Tenant B's agent names tenant A's engine and index: the calls are refused, A's data is never read."""
    owner: Tenant = await make_tenant()
    await add_engine(admin_pool, owner.name, "scorer", "predictive", SCORER)
    await add_index(admin_pool, owner.name, "kb", "pgvector", 256)
    await set_embedding(admin_pool, owner.name, "kb")
    owner_tokens = await login(client, owner)
    points = [{"id": "secret#0", "text": "The owner's secret passage about refunds."}]
    resp = await client.post(
        "/vector/insert", json={"index": "kb", "points": points}, headers=bearer(owner_tokens)
    )
    assert resp.status == 200, await resp.text()

    other: Tenant = await make_tenant()
    tokens = await login(client, other)
    by_engine = scripted_llama("predict", {"engine": "scorer", "input": SCORE_INPUT})
    by_index = scripted_llama("vector_search", {"index": "kb", "query": "refunds"})
    settings = {"engines": ["scorer"], "indexes": ["kb"], "max_steps": "2"}
    await add_engine(admin_pool, other.name, "spy", "agent", agent_config(by_engine.base_url, **settings))
    await add_engine(admin_pool, other.name, "reader", "agent", agent_config(by_index.base_url, **settings))

    for engine, needle in (("spy", "no engine named 'scorer'"), ("reader", "kb")):
        status, body, _ = await predict(client, tokens, engine, {"task": "Get the owner's data."})
        assert status == 200, body
        (call,) = body["result"]["steps"][0]["tool_calls"]
        assert "result" not in call, call
        assert needle in call["error"]
        assert "secret" not in json.dumps(body)


async def test_vector_search_reads_the_tenants_own_index(
    client: Client, make_tenant: Any, admin_pool: Any, scripted_llama: Any
) -> None:
    tenant: Tenant = await make_tenant()
    await add_index(admin_pool, tenant.name, "kb", "pgvector", 256)
    await set_embedding(admin_pool, tenant.name, "kb")
    tokens = await login(client, tenant)
    points = [
        {"id": "refunds#0", "text": "Refunds are paid back to the original card within five business days."},
        {"id": "shipping#0", "text": "Parcels leave the warehouse within two days and tracking is emailed."},
    ]
    resp = await client.post("/vector/insert", json={"index": "kb", "points": points}, headers=bearer(tokens))
    assert resp.status == 200, await resp.text()
    llama = scripted_llama("vector_search", {"index": "kb", "query": "when are refunds paid back?"})
    config = agent_config(llama.base_url, tools=["vector_search"], indexes=["kb"], max_steps="2", top_k="2")
    await add_engine(admin_pool, tenant.name, "researcher", "agent", config)

    status, body, _ = await predict(client, tokens, "researcher", {"task": "When are refunds paid?"})

    assert status == 200, body
    (call,) = body["result"]["steps"][0]["tool_calls"]
    assert [hit["id"] for hit in call["result"]] == ["refunds#0", "shipping#0"]
    assert call["result"][0]["text"] == points[0]["text"]


async def test_the_run_and_the_tenant_budget_bound_the_tokens(
    client: Client, make_tenant: Any, admin_pool: Any, scripted_llama: Any
) -> None:
    llama = scripted_llama("calculator", {"expression": "6 * 7"})
    tenant: Tenant = await make_tenant()
    config = agent_config(llama.base_url, tools=["calculator"], max_steps="8", token_budget="1000")
    await add_engine(admin_pool, tenant.name, "thrifty", "agent", config)
    tokens = await login(client, tenant)

    status, body, _ = await predict(client, tokens, "thrifty", {"task": "6 times 7?"})

    assert status == 200, body
    result = body["result"]
    assert result["stopped"] == "token_budget"
    assert 1 <= len(result["steps"]) < 8
    assert result["usage"]["total_tokens"] <= 1000
    assert result["steps"][0]["tool_calls"][0]["result"] == 42.0

    poor: Tenant = await make_tenant(llm_tokens_per_minute=300)
    await add_engine(admin_pool, poor.name, "thrifty", "agent", config)
    poor_tokens = await login(client, poor)
    status, problem, headers = await predict(client, poor_tokens, "thrifty", {"task": "6 times 7?"})
    assert status == 429, problem
    assert "token budget per minute is exhausted" in problem["detail"]
    assert int(headers["Retry-After"]) >= 1


async def test_engine_run_runs_the_agent_on_the_worker_pool(
    make_client: Any, make_tenant: Any, admin_pool: Any, scripted_llama: Any, spawn_worker: Any
) -> None:
    pool = f"agents-{uuid.uuid4().hex[:8]}"
    client = await make_client(pool=pool)
    llama = scripted_llama("calculator", {"expression": "6 * 7"})
    tenant: Tenant = await make_tenant()
    config = agent_config(llama.base_url, tools=["calculator"], max_steps="2")
    await add_engine(admin_pool, tenant.name, "worker-agent", "agent", config)
    tokens = await login(client, tenant)
    spawn_worker(tenant.name, pool)

    resp = await client.post(
        "/engine/run",
        json={"engine": "worker-agent", "input": {"task": "6 times 7?"}},
        headers=bearer(tokens),
    )
    assert resp.status == 202, await resp.text()
    job_id = (await resp.json())["job_id"]
    for _ in range(600):
        resp = await client.get(f"/jobs/{job_id}", headers=bearer(tokens))
        state = await resp.json()
        if state["status"] in {"succeeded", "failed", "dead"}:
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "succeeded", state
    result = state["result"]
    assert result["stopped"] == "answer" and len(result["steps"]) == 2
    call = result["steps"][0]["tool_calls"][0]
    assert call == {
        "id": call["id"],
        "tool": "calculator",
        "arguments": '{"expression": "6 * 7"}',
        "result": 42.0,
    }
    metered = await usage_of(client, tokens, "worker-agent")
    assert metered["requests"] == 2 and metered["prompt_tokens"] == result["usage"]["prompt_tokens"]


async def test_the_route_tool_asks_a_router_of_the_tenant(
    client: Client, make_tenant: Any, admin_pool: Any, scripted_llama: Any
) -> None:
    tenant: Tenant = await make_tenant()
    routes = [
        {
            "name": "shipping",
            "engine": "shipping-bot",
            "utterances": ["where is my parcel", "track my delivery", "the package has not arrived"],
            "threshold": 0.25,
        },
        {
            "name": "billing",
            "engine": "billing-bot",
            "utterances": ["I was charged twice", "refund a payment"],
            "threshold": 0.25,
        },
    ]
    await add_engine(admin_pool, tenant.name, "front-door", "router", {"routes": json.dumps(routes)})
    llama = scripted_llama("route", {"router": "front-door", "text": "when will my package be delivered"})
    config = agent_config(llama.base_url, tools=["route"], engines=["front-door"], max_steps="2")
    await add_engine(admin_pool, tenant.name, "dispatcher", "agent", config)
    tokens = await login(client, tenant)

    status, body, _ = await predict(client, tokens, "dispatcher", {"task": "Where does this go?"})

    assert status == 200, body
    (call,) = body["result"]["steps"][0]["tool_calls"]
    assert call["tool"] == "route"
    assert call["result"]["route"] == "shipping" and call["result"]["engine"] == "shipping-bot"
