"""Text in and out of VectorIndexes on both backends: insert and search by text with the index's model, a
clear 422 for text on an index without one, delete by id and by filter, fetch by id, the index listing, an
external OpenAI-compatible provider (a second runtime), and no tenant ever reaching another's points."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestClient
from qdrant_client import models as qm
from runtime_helpers import Tenant, add_index, bearer, login, set_embedding

from neuroedge_runtime import keys
from neuroedge_runtime.embeddings import model

Client = TestClient[Any, Any]
DOCS = [
    ("refunds", "Refunds are paid back to the original card within five business days.", "billing"),
    ("shipping", "Parcels ship from our warehouse in Rotterdam and arrive within two days.", "logistics"),
    ("passwords", "To reset your password, open the login page and follow the reset link.", "account"),
    ("invoices", "Invoices are sent by email at the start of every month as PDF files.", "billing"),
]


async def provision(
    client: Client, admin_pool: Any, tenant: str, name: str, backend: str, dim: int = 256
) -> None:
    storage = await add_index(admin_pool, tenant, name, backend, dim)
    if backend == "qdrant":
        await client.server.app[keys.QDRANT].create_collection(
            storage, vectors_config=qm.VectorParams(size=dim, distance=qm.Distance.COSINE)
        )


async def post(
    client: Client, path: str, tokens: dict[str, Any], body: dict[str, Any], status: int = 200
) -> Any:
    resp = await client.post(path, json=body, headers=bearer(tokens))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def text_index(client: Client, admin_pool: Any, tenant: Tenant, backend: str) -> dict[str, Any]:
    await provision(client, admin_pool, tenant.name, "kb", backend)
    await set_embedding(admin_pool, tenant.name, "kb")
    tokens = await login(client, tenant)
    points = [{"id": i, "text": t, "payload": {"topic": topic}} for i, t, topic in DOCS]
    assert await post(client, "/vector/insert", tokens, {"index": "kb", "points": points}) == {
        "index": "kb",
        "upserted": 4,
    }
    return tokens


@pytest.mark.parametrize("backend", ["pgvector", "qdrant"])
async def test_text_insert_and_search(
    client: Client, make_tenant: Any, admin_pool: Any, backend: str
) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await text_index(client, admin_pool, tenant, backend)
    found = await post(
        client, "/vector/search", tokens, {"index": "kb", "text": "how do I get my money back"}
    )
    assert found["hits"][0]["id"] == "refunds"
    assert found["hits"][0]["payload"] == {"topic": "billing", "text": DOCS[0][1]}
    assert found["hits"][0]["score"] > found["hits"][1]["score"]
    filtered = await post(
        client,
        "/vector/search",
        tokens,
        {"index": "kb", "text": "when do parcels arrive", "filter": {"topic": "billing"}, "top_k": 5},
    )
    assert {h["id"] for h in filtered["hits"]} == {"refunds", "invoices"}

    # A vector query with the model's own vector gives the same ranking (text search = embed + vector search).
    vector = model.BuiltinModel().encode(["how do I get my money back"]).vectors[0].tolist()
    by_vector = await post(client, "/vector/search", tokens, {"index": "kb", "vector": vector})
    assert [h["id"] for h in by_vector["hits"]] == [h["id"] for h in found["hits"]]


@pytest.mark.parametrize("backend", ["pgvector", "qdrant"])
async def test_delete_fetch_and_list(client: Client, make_tenant: Any, admin_pool: Any, backend: str) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await text_index(client, admin_pool, tenant, backend)
    fetched = await post(
        client,
        "/vector/fetch",
        tokens,
        {"index": "kb", "ids": ["shipping", "nope", "refunds"], "with_vectors": True},
    )
    assert [p["id"] for p in fetched["points"]] == ["shipping", "refunds"]
    assert fetched["points"][0]["payload"]["topic"] == "logistics"
    assert len(fetched["points"][0]["vector"]) == 256
    assert np.isclose(np.linalg.norm(fetched["points"][0]["vector"]), 1.0, atol=1e-4)
    plain = await post(client, "/vector/fetch", tokens, {"index": "kb", "ids": ["refunds"]})
    assert plain["points"][0]["vector"] is None

    listing = await (await client.get("/vector/indexes", headers=bearer(tokens))).json()
    assert listing == {
        "indexes": [
            {
                "name": "kb",
                "backend": backend,
                "dimension": 256,
                "distance": "Cosine",
                "points": 4,
                "model": "wordllama-256",
            }
        ]
    }

    assert await post(client, "/vector/delete", tokens, {"index": "kb", "ids": ["refunds", "nope"]}) == {
        "index": "kb",
        "deleted": 1,
    }
    assert await post(client, "/vector/delete", tokens, {"index": "kb", "filter": {"topic": "billing"}}) == {
        "index": "kb",
        "deleted": 1,
    }
    left = await post(client, "/vector/fetch", tokens, {"index": "kb", "ids": [d[0] for d in DOCS]})
    assert [p["id"] for p in left["points"]] == ["shipping", "passwords"]


@pytest.mark.parametrize("backend", ["pgvector", "qdrant"])
async def test_text_on_an_index_without_a_model_is_a_422_naming_the_field(
    client: Client, make_tenant: Any, admin_pool: Any, backend: str
) -> None:
    tenant: Tenant = await make_tenant()
    await provision(client, admin_pool, tenant.name, "raw", backend, dim=3)
    tokens = await login(client, tenant)
    body = {"index": "raw", "points": [{"id": "a", "vector": [1, 0, 0]}, {"id": "b", "text": "hello"}]}
    problem = await post(client, "/vector/insert", tokens, body, status=422)
    assert "no embedding model" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["points", 1, "text"]
    problem = await post(client, "/vector/search", tokens, {"index": "raw", "text": "hello"}, status=422)
    assert problem["errors"][0]["loc"] == ["text"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"index": "kb", "points": [{"id": "a"}]}, "exactly one of vector and text"),
        (
            {"index": "kb", "points": [{"id": "a", "vector": [1.0], "text": "x"}]},
            "exactly one of vector and text",
        ),
        ({"index": "kb", "points": [{"id": "a", "text": ""}]}, "at least 1 character"),
    ],
)
async def test_bad_points_are_refused(
    client: Client, make_tenant: Any, body: dict[str, Any], fragment: str
) -> None:
    tenant: Tenant = await make_tenant()
    problem = await post(client, "/vector/insert", await login(client, tenant), body, status=422)
    assert fragment in str(problem["errors"])


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/vector/search", {"index": "kb"}, "exactly one of vector and text"),
        ("/vector/delete", {"index": "kb"}, "exactly one of ids and filter"),
        (
            "/vector/delete",
            {"index": "kb", "ids": ["a"], "filter": {"x": 1}},
            "exactly one of ids and filter",
        ),
        ("/vector/delete", {"index": "kb", "filter": {}}, "at least 1 item"),
        ("/vector/fetch", {"index": "kb", "ids": []}, "at least 1 item"),
    ],
)
async def test_bad_requests_are_refused(
    client: Client, make_tenant: Any, path: str, body: dict[str, Any], fragment: str
) -> None:
    tenant: Tenant = await make_tenant()
    problem = await post(client, path, await login(client, tenant), body, status=422)
    assert fragment in str(problem["errors"])


@pytest.mark.parametrize("backend", ["pgvector", "qdrant"])
async def test_tenants_never_see_each_others_points(
    client: Client, make_tenant: Any, admin_pool: Any, backend: str
) -> None:
    owner: Tenant = await make_tenant()
    await text_index(client, admin_pool, owner, backend)
    intruder: Tenant = await make_tenant()
    tokens = await login(client, intruder)
    for path, body in (
        ("/vector/fetch", {"index": "kb", "ids": ["refunds"]}),
        ("/vector/search", {"index": "kb", "text": "refunds"}),
        ("/vector/delete", {"index": "kb", "ids": ["refunds"]}),
    ):
        await post(client, path, tokens, body, status=404)
    listing = await (await client.get("/vector/indexes", headers=bearer(tokens))).json()
    assert listing == {"indexes": []}
    # The intruder's own index of the same name holds none of the owner's points.
    await provision(client, admin_pool, intruder.name, "kb", backend)
    await set_embedding(admin_pool, intruder.name, "kb")
    assert (await post(client, "/vector/search", tokens, {"index": "kb", "text": "refunds"}))["hits"] == []
    assert (await post(client, "/vector/fetch", tokens, {"index": "kb", "ids": ["refunds"]}))["points"] == []
    assert (await post(client, "/vector/delete", tokens, {"index": "kb", "filter": {"topic": "billing"}}))[
        "deleted"
    ] == 0


async def test_external_openai_compatible_provider(
    make_client: Any, make_tenant: Any, admin_pool: Any
) -> None:
    """The index's model is served by another runtime's /v1/embeddings (an honest OpenAI-compatible server on
    loopback) with its API key; vectors equal the built-in model's, since that is what the server runs."""
    provider_client: Client = await make_client()
    client: Client = await make_client()
    provider_tenant: Tenant = await make_tenant("provider")
    api_key = (await login(provider_client, provider_tenant))["access_token"]
    base_url = f"http://{provider_client.server.host}:{provider_client.server.port}/v1"

    tenant: Tenant = await make_tenant()
    await provision(client, admin_pool, tenant.name, "ext", "pgvector")
    await set_embedding(admin_pool, tenant.name, "ext", "wordllama-256", "openai", base_url, api_key)
    tokens = await login(client, tenant)
    points = [{"id": i, "text": t} for i, t, _ in DOCS]
    await post(client, "/vector/insert", tokens, {"index": "ext", "points": points})
    found = await post(client, "/vector/search", tokens, {"index": "ext", "text": "reset my password"})
    assert found["hits"][0]["id"] == "passwords"
    fetched = await post(
        client, "/vector/fetch", tokens, {"index": "ext", "ids": ["passwords"], "with_vectors": True}
    )
    expected = model.BuiltinModel().encode([DOCS[2][1]]).vectors[0]
    assert np.allclose(fetched["points"][0]["vector"], expected, atol=1e-5)

    # A wrong key: the provider's 401 comes back as a 502 that says which provider and why.
    await set_embedding(admin_pool, tenant.name, "ext", "wordllama-256", "openai", base_url, "wrong")
    problem = await post(client, "/vector/search", tokens, {"index": "ext", "text": "x"}, status=502)
    assert base_url in problem["detail"] and "401" in problem["detail"]
    # A model the provider does not have.
    await set_embedding(admin_pool, tenant.name, "ext", "nomic-embed", "openai", base_url, api_key)
    problem = await post(client, "/vector/search", tokens, {"index": "ext", "text": "x"}, status=502)
    assert "404" in problem["detail"] and "nomic-embed" in problem["detail"]
    # Nothing listens there.
    await set_embedding(
        admin_pool, tenant.name, "ext", "wordllama-256", "openai", "http://127.0.0.1:9/v1", None
    )
    problem = await post(client, "/vector/search", tokens, {"index": "ext", "text": "x"}, status=502)
    assert "127.0.0.1:9" in problem["detail"]


async def test_provider_vectors_of_the_wrong_dimension_name_both(
    make_client: Any, make_tenant: Any, admin_pool: Any
) -> None:
    provider_client: Client = await make_client()
    client: Client = await make_client()
    provider_tenant: Tenant = await make_tenant("provider")
    api_key = (await login(provider_client, provider_tenant))["access_token"]
    base_url = f"http://{provider_client.server.host}:{provider_client.server.port}/v1"
    tenant: Tenant = await make_tenant()
    await provision(client, admin_pool, tenant.name, "small", "pgvector", dim=128)
    await set_embedding(admin_pool, tenant.name, "small", "wordllama-256", "openai", base_url, api_key)
    tokens = await login(client, tenant)
    problem = await post(
        client, "/vector/insert", tokens, {"index": "small", "points": [{"id": "a", "text": "x"}]}, status=502
    )
    assert "256-dimensional" in problem["detail"] and "dimension 128" in problem["detail"]
