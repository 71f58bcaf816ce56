"""Vector insert and search on both backends (pgvector under RLS, Qdrant in local mode), same semantics."""

from __future__ import annotations

import math
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from qdrant_client import models as qm
from runtime_helpers import Tenant, add_index, bearer, create_user, login

from neuroedge_runtime import keys

Client = TestClient[Any, Any]
QDRANT_DISTANCE = {"Cosine": qm.Distance.COSINE, "Dot": qm.Distance.DOT, "Euclid": qm.Distance.EUCLID}
POINTS = [
    {"id": "red-1", "vector": [1.0, 0.0, 0.0], "payload": {"color": "red", "price": 5, "tags": "a"}},
    {"id": "red-2", "vector": [0.9, 0.1, 0.0], "payload": {"color": "red", "price": 15, "tags": "b"}},
    {"id": "blue-1", "vector": [0.0, 1.0, 0.0], "payload": {"color": "blue", "price": 25, "tags": "c"}},
    {"id": "mixed", "vector": [0.6, 0.6, 0.2], "payload": {"color": "green", "price": 35.5, "tags": "a"}},
]


async def provision(
    client: Client,
    admin_pool: Any,
    tenant: str,
    name: str,
    backend: str,
    dim: int = 3,
    distance: str = "Cosine",
) -> str:
    storage = await add_index(admin_pool, tenant, name, backend, dim, distance)
    if backend == "qdrant":
        await client.server.app[keys.QDRANT].create_collection(
            storage, vectors_config=qm.VectorParams(size=dim, distance=QDRANT_DISTANCE[distance])
        )
    return storage


async def search(client: Client, tokens: dict[str, Any], **body: Any) -> list[dict[str, Any]]:
    resp = await client.post("/vector/search", json=body, headers=bearer(tokens))
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["hits"])


@pytest.mark.parametrize("backend", ["pgvector", "qdrant"])
async def test_insert_then_search_with_filters(
    client: Client, make_tenant: Any, admin_pool: Any, backend: str
) -> None:
    tenant: Tenant = await make_tenant()
    await provision(client, admin_pool, tenant.name, "docs", backend)
    tokens = await login(client, tenant)
    resp = await client.post(
        "/vector/insert", json={"index": "docs", "points": POINTS}, headers=bearer(tokens)
    )
    assert resp.status == 200 and (await resp.json()) == {"index": "docs", "upserted": 4}

    hits = await search(client, tokens, index="docs", vector=[1, 0, 0], top_k=2)
    assert [h["id"] for h in hits] == ["red-1", "red-2"]
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-5)
    assert hits[0]["payload"] == POINTS[0]["payload"]

    eq = await search(client, tokens, index="docs", vector=[1, 0, 0], filter={"color": "blue"})
    assert [h["id"] for h in eq] == ["blue-1"]
    rng = await search(
        client, tokens, index="docs", vector=[1, 0, 0], filter={"price": {"gte": 10, "lt": 36}}
    )
    assert {h["id"] for h in rng} == {"red-2", "blue-1", "mixed"}
    member = await search(client, tokens, index="docs", vector=[1, 0, 0], filter={"tags": {"in": ["a", "c"]}})
    assert [h["id"] for h in member] == ["red-1", "mixed", "blue-1"]
    both = await search(
        client, tokens, index="docs", vector=[1, 0, 0], filter={"color": "red", "price": {"gt": 10}}
    )
    assert [h["id"] for h in both] == ["red-2"]
    close = await search(client, tokens, index="docs", vector=[1, 0, 0], score_threshold=0.65)  # mixed: 0.688
    assert [h["id"] for h in close] == ["red-1", "red-2", "mixed"]
    assert all(h["score"] >= 0.65 for h in close)

    # Upsert replaces by id.
    moved = {"id": "blue-1", "vector": [1.0, 0.0, 0.0], "payload": {"color": "blue", "price": 1}}
    await client.post("/vector/insert", json={"index": "docs", "points": [moved]}, headers=bearer(tokens))
    hits = await search(client, tokens, index="docs", vector=[1, 0, 0], filter={"color": "blue"})
    assert hits[0]["payload"]["price"] == 1 and hits[0]["score"] == pytest.approx(1.0, abs=1e-5)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


@pytest.mark.parametrize("backend", ["pgvector", "qdrant"])
async def test_search_params_and_more_hits_than_the_candidate_list(
    client: Client, make_tenant: Any, admin_pool: Any, backend: str
) -> None:
    """`top_k` above pgvector's HNSW candidate list (40) still gets `top_k` hits (the scan iterates; it
    stopped at 40 before); `params.exact` gives the true nearest neighbours in order; `params.hnsw_ef` is
    accepted and bounded."""
    tenant: Tenant = await make_tenant()
    storage = await provision(client, admin_pool, tenant.name, "many", backend)
    tokens = await login(client, tenant)
    points = [
        {"id": f"p{i}", "vector": [math.cos(i / 7), math.sin(i / 7), i / 1000], "payload": {"n": i}}
        for i in range(1000)
    ]
    body = {"index": "many", "points": points}
    resp = await client.post("/vector/insert", json=body, headers=bearer(tokens))
    assert resp.status == 200, await resp.text()
    if backend == "pgvector":
        # What autovacuum does in a live database: with statistics, the planner takes the HNSW index here
        # (without, it guesses a handful of rows and sorts them, which would hide the candidate-list limit).
        await admin_pool.execute(f'ANALYZE neuroedge."{storage}"')
        plan = await admin_pool.fetch(
            f'EXPLAIN SELECT id FROM neuroedge."{storage}" ORDER BY embedding <=> $1::vector LIMIT 50',
            "[1, 0.2, 0.5]",
        )
        assert "hnsw" in " ".join(row[0] for row in plan)
    query = [1.0, 0.2, 0.5]
    truth = sorted(points, key=lambda p: -cosine(query, p["vector"]))

    many = await search(client, tokens, index="many", vector=query, top_k=50)
    assert len(many) == 50 and len({h["id"] for h in many}) == 50
    exact = await search(client, tokens, index="many", vector=query, top_k=50, params={"exact": True})
    assert [h["id"] for h in exact] == [p["id"] for p in truth[:50]]
    for hit, point in zip(exact, truth, strict=False):
        assert hit["score"] == pytest.approx(cosine(query, point["vector"]), abs=1e-4)
    wide = await search(client, tokens, index="many", vector=query, top_k=45, params={"hnsw_ef": 200})
    assert len(wide) == 45 and [h["score"] for h in wide] == sorted((h["score"] for h in wide), reverse=True)
    narrow = await search(client, tokens, index="many", vector=query, top_k=20, params={"hnsw_ef": 5})
    assert len(narrow) == 20  # a candidate list shorter than top_k iterates too
    exact_filter = {"top_k": 5, "filter": {"n": {"gte": 990}}, "params": {"exact": True}}
    filtered = await search(client, tokens, index="many", vector=query, **exact_filter)
    assert [h["id"] for h in filtered] == [p["id"] for p in truth if p["payload"]["n"] >= 990][:5]

    for params, field in (({"hnsw_ef": 0}, "hnsw_ef"), ({"hnsw_ef": 1001}, "hnsw_ef"), ({"ef": 10}, "ef")):
        resp = await client.post(
            "/vector/search",
            json={"index": "many", "vector": query, "params": params},
            headers=bearer(tokens),
        )
        assert resp.status == 422 and resp.content_type == "application/problem+json"
        assert field in await resp.text()


@pytest.mark.parametrize("distance", ["Cosine", "Dot", "Euclid"])
async def test_scores_agree_across_backends(
    client: Client, make_tenant: Any, admin_pool: Any, distance: str
) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await login(client, tenant)
    results = {}
    for backend in ("pgvector", "qdrant"):
        await provision(client, admin_pool, tenant.name, f"i-{backend}", backend, distance=distance)
        await client.post(
            "/vector/insert", json={"index": f"i-{backend}", "points": POINTS}, headers=bearer(tokens)
        )
        results[backend] = await search(client, tokens, index=f"i-{backend}", vector=[0.5, 0.4, 0.1], top_k=4)
    pg, qd = results["pgvector"], results["qdrant"]
    assert [h["id"] for h in pg] == [h["id"] for h in qd]
    for a, b in zip(pg, qd, strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-4)
    assert [h["score"] for h in pg] == sorted((h["score"] for h in pg), reverse=True)  # higher = more similar
    query, first = [0.5, 0.4, 0.1], next(p for p in POINTS if p["id"] == pg[0]["id"])["vector"]
    expected = {
        "Cosine": sum(x * y for x, y in zip(query, first, strict=True))
        / (math.hypot(*query) * math.hypot(*first)),
        "Dot": sum(x * y for x, y in zip(query, first, strict=True)),
        "Euclid": -math.dist(query, first),
    }[distance]
    assert pg[0]["score"] == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("backend", ["pgvector", "qdrant"])
async def test_dimension_and_input_errors(
    client: Client, make_tenant: Any, admin_pool: Any, backend: str
) -> None:
    tenant: Tenant = await make_tenant()
    await provision(client, admin_pool, tenant.name, "docs", backend)
    tokens = await login(client, tenant)
    bad_dim = {"index": "docs", "points": [{"id": "x", "vector": [1.0, 2.0]}]}
    resp = await client.post("/vector/insert", json=bad_dim, headers=bearer(tokens))
    assert resp.status == 422 and "dimension 3" in (await resp.json())["detail"]
    resp = await client.post(
        "/vector/search", json={"index": "docs", "vector": [1, 2, 3, 4]}, headers=bearer(tokens)
    )
    assert resp.status == 422
    for body in (
        {"index": "docs", "points": []},
        {"index": "docs", "points": [{"id": "a", "vector": [1, 2, 3]}, {"id": "a", "vector": [1, 2, 3]}]},
        {"index": "docs", "points": [{"id": "", "vector": [1, 2, 3]}]},
    ):
        assert (await client.post("/vector/insert", json=body, headers=bearer(tokens))).status == 422
    for body in (
        {"index": "docs", "vector": [1, 2, 3], "top_k": 0},
        {"index": "docs", "vector": [1, 2, 3], "filter": {"price": {}}},
        {"index": "docs", "vector": [1, 2, 3], "filter": {"bad field!": 1}},
        {"index": "docs", "vector": [1, 2, 3], "filter": {"price": {"in": []}}},
        {"index": "Bad_Name", "vector": [1, 2, 3]},
    ):
        assert (await client.post("/vector/search", json=body, headers=bearer(tokens))).status == 422
    # Nothing was written by the rejected requests.
    assert await search(client, tokens, index="docs", vector=[1, 0, 0]) == []


async def test_unknown_and_unprovisioned_indexes(client: Client, make_tenant: Any, admin_pool: Any) -> None:
    tenant: Tenant = await make_tenant()
    tokens = await login(client, tenant)
    resp = await client.post(
        "/vector/search", json={"index": "nope", "vector": [1.0]}, headers=bearer(tokens)
    )
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    await add_index(admin_pool, tenant.name, "later", "qdrant", 3)  # registered, collection not created yet
    resp = await client.post(
        "/vector/search", json={"index": "later", "vector": [1, 0, 0]}, headers=bearer(tokens)
    )
    assert resp.status == 503


async def test_viewers_search_but_cannot_insert(client: Client, make_tenant: Any, admin_pool: Any) -> None:
    tenant: Tenant = await make_tenant()
    await provision(client, admin_pool, tenant.name, "docs", "pgvector")
    admin = await login(client, tenant)
    await create_user(client, admin, "viewer@example.com", "viewer")
    viewer = await login(client, tenant, "viewer@example.com", "correct horse battery")
    body = {"index": "docs", "points": POINTS[:1]}
    assert (await client.post("/vector/insert", json=body, headers=bearer(viewer))).status == 403
    assert (
        await client.post(
            "/vector/search", json={"index": "docs", "vector": [1, 0, 0]}, headers=bearer(viewer)
        )
    ).status == 200


async def test_qdrant_indexes_without_a_configured_qdrant_are_503(
    make_client: Any, make_tenant: Any, admin_pool: Any
) -> None:
    client: Client = await make_client(qdrant_location=None)
    assert keys.QDRANT not in client.server.app
    tenant: Tenant = await make_tenant()
    await add_index(admin_pool, tenant.name, "docs", "qdrant", 3)
    tokens = await login(client, tenant)
    resp = await client.post(
        "/vector/search", json={"index": "docs", "vector": [1, 0, 0]}, headers=bearer(tokens)
    )
    assert resp.status == 503 and "no Qdrant" in (await resp.json())["detail"]
