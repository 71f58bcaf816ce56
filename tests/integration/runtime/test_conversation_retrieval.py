"""The conversation engine with `config.vectorIndex` answers from the tenant's text-embedded index through
/engine/predict: the right passage, its document among the sources, and never another tenant's index."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, add_engine, add_index, bearer, login, set_embedding

Client = TestClient[Any, Any]
CONFIG = {
    "vectorIndex": "kb",
    "answer_template": "{answer} (source: {source})",
    "fallback": "I could not find that.",
    "min_score": "0.3",
}
PASSAGES = [
    ("refunds#0", "refunds", "Refunds are paid back to the original card within five business days."),
    ("shipping#0", "shipping", "Parcels leave the warehouse within two days and tracking is emailed."),
    ("passwords#0", "passwords", "To reset your password, open Settings and click Reset password."),
]


async def setup(client: Client, admin_pool: Any, tenant: Tenant) -> dict[str, Any]:
    await add_index(admin_pool, tenant.name, "kb", "pgvector", 256)
    await set_embedding(admin_pool, tenant.name, "kb")
    await add_engine(admin_pool, tenant.name, "helper", "conversation", CONFIG)
    tokens = await login(client, tenant)
    points = [{"id": i, "text": t, "payload": {"document": d}} for i, d, t in PASSAGES]
    resp = await client.post("/vector/insert", json={"index": "kb", "points": points}, headers=bearer(tokens))
    assert resp.status == 200, await resp.text()
    return tokens


async def predict(client: Client, tokens: dict[str, Any], message: str, engine: str = "helper") -> Any:
    resp = await client.post(
        "/engine/predict", json={"engine": engine, "input": {"message": message}}, headers=bearer(tokens)
    )
    return resp.status, await resp.json()


async def test_answers_from_the_index_with_sources(client: Client, make_tenant: Any, admin_pool: Any) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await setup(client, admin_pool, tenant)
    status, body = await predict(client, tokens, "how do I reset my password?")
    assert status == 200, body
    result = body["result"]
    assert result["intent"] == "answer"
    assert result["reply"] == f"{PASSAGES[2][2]} (source: passwords)"
    assert result["sources"][0]["id"] == "passwords" and len(result["sources"]) == 3


async def test_an_engine_naming_a_missing_index_is_a_clear_422(
    client: Client, make_tenant: Any, admin_pool: Any
) -> None:
    owner: Tenant = await make_tenant()
    await setup(client, admin_pool, owner)
    other: Tenant = await make_tenant()
    # The other tenant's engine names "kb": it must not reach the owner's index of that name.
    await add_engine(admin_pool, other.name, "helper", "conversation", CONFIG)
    status, body = await predict(client, await login(client, other), "how do I reset my password?")
    assert status == 422 and "config.vectorIndex kb" in body["detail"] and "no vector index" in body["detail"]
