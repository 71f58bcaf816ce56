"""Tenant isolation: tenant A cannot read, search or overwrite tenant B's users, vectors or engines by any
route or parameter, and concurrent requests of two tenants sharing one pooled connection never cross."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from qdrant_client import models as qm
from runtime_helpers import Tenant, add_engine, add_index, bearer, create_user, login

from neuroedge_runtime import keys
from neuroedge_runtime.vectors import qdrant as qdrant_backend

Client = TestClient[Any, Any]
PREDICTIVE = {"model": "linear", "weights": {"x": 2.0}, "bias": 1.0}


async def two_tenants(
    client: Client, make_tenant: Any, admin_pool: Any
) -> tuple[Tenant, Tenant, dict[str, Any], dict[str, Any]]:
    a: Tenant = await make_tenant("a")
    b: Tenant = await make_tenant("b")
    tokens = {}
    for tenant in (a, b):
        storage = await add_index(admin_pool, tenant.name, "docs", "qdrant", 2)
        await client.server.app[keys.QDRANT].create_collection(
            storage, vectors_config=qm.VectorParams(size=2, distance=qm.Distance.COSINE)
        )
        await add_index(admin_pool, tenant.name, "pg", "pgvector", 2)
        tokens[tenant.name] = await login(client, tenant)
    await add_engine(admin_pool, b.name, "b-only", "predictive", PREDICTIVE)
    await add_engine(admin_pool, a.name, "shared-name", "predictive", {**PREDICTIVE, "bias": 100.0})
    await add_engine(admin_pool, b.name, "shared-name", "predictive", {**PREDICTIVE, "bias": 200.0})
    await add_index(admin_pool, b.name, "b-only", "pgvector", 2)
    return a, b, tokens[a.name], tokens[b.name]


async def test_users_are_invisible_and_untouchable_across_tenants(
    client: Client, make_tenant: Any, admin_pool: Any
) -> None:
    a, b, ta, tb = await two_tenants(client, make_tenant, admin_pool)
    b_user = await create_user(client, tb, "shared@example.com", "member")
    # The same email in another tenant is a different user, not a conflict.
    await create_user(client, ta, "shared@example.com", "member")
    a_users = (await (await client.get("/admin/users", headers=bearer(ta))).json())["users"]
    assert b_user["id"] not in {u["id"] for u in a_users}
    assert (
        await client.get("/admin/users", params={"cursor": b_user["id"]}, headers=bearer(ta))
    ).status == 200
    resp = await client.post(f"/admin/users/{b_user['id']}/disable", headers=bearer(ta))
    assert resp.status == 404
    b_users = (await (await client.get("/admin/users", headers=bearer(tb))).json())["users"]
    assert next(u for u in b_users if u["id"] == b_user["id"])["disabled"] is False
    # B's user cannot log in through tenant A.
    resp = await client.post(
        "/auth/login", json={"tenant": a.name, "email": b.admin_email, "password": b.admin_password}
    )
    assert resp.status == 401


@pytest.mark.parametrize("index", ["docs", "pg"])
async def test_vectors_are_invisible_and_unwritable_across_tenants(
    client: Client, make_tenant: Any, admin_pool: Any, index: str
) -> None:
    _, _, ta, tb = await two_tenants(client, make_tenant, admin_pool)
    point = {"id": "p1", "vector": [1.0, 0.0], "payload": {"owner": "b"}}
    assert (
        await client.post("/vector/insert", json={"index": index, "points": [point]}, headers=bearer(tb))
    ).status == 200
    # A writes the same id into its own index of the same name: B's point is untouched.
    mine = {"id": "p1", "vector": [0.0, 1.0], "payload": {"owner": "a"}}
    assert (
        await client.post("/vector/insert", json={"index": index, "points": [mine]}, headers=bearer(ta))
    ).status == 200
    for tokens, owner in ((ta, "a"), (tb, "b")):
        resp = await client.post(
            "/vector/search", json={"index": index, "vector": [1.0, 0.0], "top_k": 10}, headers=bearer(tokens)
        )
        hits = (await resp.json())["hits"]
        assert [h["payload"]["owner"] for h in hits] == [owner]
    # B's index names mean nothing to A.
    resp = await client.post(
        "/vector/search", json={"index": "b-only", "vector": [1.0, 0.0]}, headers=bearer(ta)
    )
    assert resp.status == 404


async def test_qdrant_search_filters_on_the_tenant_even_in_a_shared_collection(
    client: Client, make_tenant: Any, admin_pool: Any
) -> None:
    a, b, ta, _ = await two_tenants(client, make_tenant, admin_pool)
    # Simulate a mis-provisioned collection holding a point of B inside A's collection.
    row = await admin_pool.fetchrow(
        "SELECT storage_name FROM neuroedge.vector_indexes WHERE tenant_id = $1 AND name = 'docs'", a.name
    )
    await client.server.app[keys.QDRANT].upsert(
        row["storage_name"],
        points=[
            qm.PointStruct(
                id=qdrant_backend.point_id(b.name, "intruder"),
                vector=[1.0, 0.0],
                payload={"tenant_id": b.name, "id": "intruder", "data": {}},
            )
        ],
    )
    resp = await client.post(
        "/vector/search", json={"index": "docs", "vector": [1.0, 0.0]}, headers=bearer(ta)
    )
    assert (await resp.json())["hits"] == []


async def test_engines_resolve_within_the_tenant_only(
    client: Client, make_tenant: Any, admin_pool: Any
) -> None:
    _, _, ta, tb = await two_tenants(client, make_tenant, admin_pool)
    body = {"engine": "b-only", "input": {"features": {"x": 1}}}
    assert (await client.post("/engine/predict", json=body, headers=bearer(ta))).status == 404
    for tokens, bias in ((ta, 100.0), (tb, 200.0)):
        body = {"engine": "shared-name", "input": {"features": {"x": 1}}}
        resp = await client.post("/engine/predict", json=body, headers=bearer(tokens))
        assert (await resp.json())["result"]["score"] == bias + 2.0


async def test_refresh_token_of_b_cannot_be_replayed_as_a(
    client: Client, make_tenant: Any, admin_pool: Any
) -> None:
    a, _, _, tb = await two_tenants(client, make_tenant, admin_pool)
    secret = tb["refresh_token"].split(".")[2]
    forged = f"rt1.{a.name}.{secret}"
    assert (await client.post("/auth/refresh", json={"refresh_token": forged})).status == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": tb["refresh_token"]})).status == 200


async def test_concurrent_requests_on_a_pool_of_one_connection_never_cross(
    make_client: Any, make_tenant: Any, admin_pool: Any
) -> None:
    client: Client = await make_client(db_pool_min=1, db_pool_max=1)
    a, b, ta, tb = await two_tenants(client, make_tenant, admin_pool)
    for tokens, owner in ((ta, "a"), (tb, "b")):
        await client.post(
            "/vector/insert",
            json={
                "index": "pg",
                "points": [
                    {"id": f"{owner}-{i}", "vector": [1.0, float(i)], "payload": {"owner": owner}}
                    for i in range(5)
                ],
            },
            headers=bearer(tokens),
        )
    expected_users = {a.name: {a.admin_email}, b.name: {b.admin_email}}

    async def users(tenant: Tenant, tokens: dict[str, Any]) -> None:
        page = await (await client.get("/admin/users", headers=bearer(tokens))).json()
        assert {u["email"] for u in page["users"]} == expected_users[tenant.name]

    async def vectors(owner: str, tokens: dict[str, Any]) -> None:
        resp = await client.post(
            "/vector/search", json={"index": "pg", "vector": [1.0, 1.0], "top_k": 50}, headers=bearer(tokens)
        )
        hits = (await resp.json())["hits"]
        assert len(hits) == 5 and {h["payload"]["owner"] for h in hits} == {owner}

    work = []
    for _ in range(15):
        work += [users(a, ta), users(b, tb), vectors("a", ta), vectors("b", tb)]
    await asyncio.gather(*work)
    pool = client.server.app[keys.POOL]
    assert pool.get_size() == 1
    async with pool.acquire() as conn:  # nothing of any request's tenant survives on the connection
        assert await conn.fetchval("SELECT current_setting('app.current_tenant', true)") in (None, "")
        assert await conn.fetchval("SELECT count(*) FROM neuroedge.users") == 0  # RLS: no tenant, no rows
