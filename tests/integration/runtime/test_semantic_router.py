"""Router Engines (semantic routing) with the real built-in embedding model: `/engine/route` picks the route
whose utterances a text is most similar to, falls back below the thresholds, and `/engine/run` enqueues the
chosen Engine's job. A tenant never routes with, or into, another tenant's Engines."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, add_engine, bearer, login

Client = TestClient[Any, Any]
ROUTES = [
    {
        "name": "billing",
        "engine": "billing-bot",
        "utterances": [
            "I was charged twice on my invoice",
            "how do I update my credit card",
            "refund a payment",
        ],
        "threshold": 0.25,
    },
    {
        "name": "shipping",
        "engine": "shipping-bot",
        "utterances": ["where is my parcel", "track my delivery", "the package has not arrived"],
        "threshold": 0.25,
    },
]
ROUTER = {"routes": json.dumps(ROUTES), "fallback": "helpdesk"}
BOT = {"documents": json.dumps([{"id": "faq", "text": "We answer within a day."}])}


async def tenant_with_router(client: Client, admin_pool: Any, tenant: Tenant) -> dict[str, Any]:
    await add_engine(admin_pool, tenant.name, "front-door", "router", ROUTER)
    for name in ("billing-bot", "shipping-bot", "helpdesk"):
        await add_engine(admin_pool, tenant.name, name, "conversation", BOT)
    return await login(client, tenant)


async def route(client: Client, tokens: dict[str, Any], text: str, engine: str = "front-door") -> Any:
    resp = await client.post(
        "/engine/route", json={"engine": engine, "input": {"text": text}}, headers=bearer(tokens)
    )
    return resp.status, await resp.json()


async def test_texts_go_to_the_most_similar_route_and_otherwise_to_the_fallback(
    client: Client, make_tenant: Any, admin_pool: Any
) -> None:
    tokens = await tenant_with_router(client, admin_pool, await make_tenant())

    status, billed = await route(client, tokens, "my card was billed two times this month")
    _, shipped = await route(client, tokens, "when will my package be delivered")
    _, other = await route(client, tokens, "tell me a joke about cats")

    assert status == 200, billed
    assert billed["result"]["route"] == "billing" and billed["result"]["engine"] == "billing-bot"
    assert billed["result"]["scores"]["billing"] > billed["result"]["scores"]["shipping"]
    assert shipped["result"]["route"] == "shipping" and shipped["result"]["engine"] == "shipping-bot"
    assert other["result"] == {
        "route": None,
        "engine": "helpdesk",
        "fallback": True,
        "scores": other["result"]["scores"],
    }
    assert max(other["result"]["scores"].values()) < 0.25


async def test_engine_run_on_a_router_enqueues_the_chosen_engines_job(
    make_client: Any, make_tenant: Any, admin_pool: Any
) -> None:
    client = await make_client(pool="routed")
    tokens = await tenant_with_router(client, admin_pool, await make_tenant())
    body = {"engine": "front-door", "input": {"text": "where is my parcel?", "input": {"message": "hi"}}}

    resp = await client.post("/engine/run", json=body, headers=bearer(tokens))
    assert resp.status == 202, await resp.text()
    job = await (await client.get(f"/jobs/{(await resp.json())['job_id']}", headers=bearer(tokens))).json()

    assert job["engine"] == "shipping-bot" and job["status"] == "queued", job


async def test_bad_router_input_and_config_get_clear_errors(
    make_client: Any, make_tenant: Any, admin_pool: Any
) -> None:
    client = await make_client(pool="routed")
    tenant: Tenant = await make_tenant()
    tokens = await tenant_with_router(client, admin_pool, tenant)
    await add_engine(admin_pool, tenant.name, "broken", "router", {"routes": "[]"})

    status, problem = await route(client, tokens, "")
    assert status == 422 and problem["errors"][0]["loc"] == ["input", "text"]
    status, problem = await route(client, tokens, "hello", engine="broken")
    assert status == 422 and problem["errors"][0]["loc"] == ["config", "routes"]
    status, problem = await route(client, tokens, "hello", engine="billing-bot")
    assert status == 409 and "/engine/predict" in problem["detail"]
    resp = await client.post(
        "/engine/run", json={"engine": "front-door", "input": {"message": "x"}}, headers=bearer(tokens)
    )
    assert resp.status == 422 and "input.text" in (await resp.json())["detail"]


async def test_routers_never_cross_tenants(make_client: Any, make_tenant: Any, admin_pool: Any) -> None:
    client = await make_client(pool="routed")
    owner: Tenant = await make_tenant()
    await tenant_with_router(client, admin_pool, owner)
    other: Tenant = await make_tenant()
    tokens = await login(client, other)
    # Another tenant's router is not there at all.
    status, problem = await route(client, tokens, "where is my parcel")
    assert status == 404, problem
    # A router whose routes name Engines only the owner has: routing works, running the choice does not.
    await add_engine(admin_pool, other.name, "front-door", "router", ROUTER)
    status, decided = await route(client, tokens, "where is my parcel")
    assert status == 200 and decided["result"]["engine"] == "shipping-bot"
    body = {"engine": "front-door", "input": {"text": "where is my parcel?", "input": {"message": "hi"}}}
    resp = await client.post("/engine/run", json=body, headers=bearer(tokens))
    assert resp.status == 404 and "shipping-bot" in (await resp.json())["detail"]
