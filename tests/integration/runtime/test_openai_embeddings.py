"""`/v1/embeddings` and `/v1/models` through the official `openai` client against the real runtime: vectors
equal to the model's own, both encodings, truncation, usage, and OpenAI-shaped errors for every bad input,
missing credentials and the tenant's rate limit."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import openai
import pytest
from aiohttp.test_utils import TestClient
from runtime_helpers import Tenant, bearer, create_user, login, openai_client

from neuroedge_runtime.embeddings import model

Client = TestClient[Any, Any]


def api(client: Client, tokens: dict[str, Any] | None, **options: Any) -> openai.AsyncOpenAI:
    key = tokens["access_token"] if tokens else "not-a-token"
    return openai_client(client, key, max_retries=0, **options)


@pytest.fixture(scope="module")
def reference() -> model.BuiltinModel:
    return model.BuiltinModel()


async def test_embeddings_equal_the_models_own(
    client: Client, make_tenant: Any, reference: model.BuiltinModel
) -> None:
    tenant: Tenant = await make_tenant()
    oai = api(client, await login(client, tenant))
    texts = ["How do I return an order?", "Refunds take five business days.", "Gibt es Versand nach Wien?"]
    response = await oai.embeddings.create(model="wordllama-256", input=texts)  # the client asks for base64
    got = np.array([d.embedding for d in response.data], dtype=np.float32)
    assert [d.index for d in response.data] == [0, 1, 2]
    assert np.allclose(got, reference.encode(texts).vectors, atol=1e-6)
    assert response.model == "wordllama-256"
    assert response.usage.prompt_tokens == sum(reference.encode(texts).tokens) > 0
    assert response.usage.total_tokens == response.usage.prompt_tokens

    floats = await oai.embeddings.create(model="wordllama-256", input=texts[0], encoding_format="float")
    assert len(floats.data) == 1 and np.allclose(floats.data[0].embedding, got[0], atol=1e-6)


async def test_dimensions_truncate_and_renormalise(
    client: Client, make_tenant: Any, reference: model.BuiltinModel
) -> None:
    tenant: Tenant = await make_tenant()
    oai = api(client, await login(client, tenant))
    response = await oai.embeddings.create(model="wordllama-256", input=["refund policy"], dimensions=64)
    vector = np.array(response.data[0].embedding)
    assert vector.shape == (64,) and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
    full = reference.encode(["refund policy"]).vectors[0]
    assert np.allclose(vector, full[:64] / np.linalg.norm(full[:64]), atol=1e-6)


async def test_models_list_and_retrieve(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    oai = api(client, await login(client, tenant))
    listed = [m async for m in oai.models.list()]
    assert "wordllama-256" in [m.id for m in listed]
    card = await oai.models.retrieve("wordllama-256")
    assert (card.id, card.object, card.owned_by) == ("wordllama-256", "model", "neuroedge")
    with pytest.raises(openai.NotFoundError) as missing:
        await oai.models.retrieve("gpt-9")
    assert missing.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"model": "wordllama-256", "input": ""}, "input", "must not be an empty string"),
        ({"model": "wordllama-256", "input": []}, "input", "at least 1 item"),
        ({"model": "wordllama-256", "input": ["a", ""]}, "input", "input[1] must not be an empty string"),
        ({"model": "wordllama-256", "input": [[1, 2, 3]]}, "input", "token-id arrays are not supported"),
        ({"model": "wordllama-256", "input": 5}, "input", "a string or a list of strings"),
        ({"model": "wordllama-256", "input": "x", "dimensions": 300}, "dimensions", "at most 256"),
        ({"model": "wordllama-256", "input": "x", "dimensions": 0}, "dimensions", "greater than or equal"),
        ({"model": "wordllama-256", "input": "x", "encoding_format": "int8"}, "encoding_format", "float"),
        ({"model": "wordllama-256", "input": "x", "temperature": 1}, "temperature", "Extra inputs"),
        ({"input": "x"}, "model", "Field required"),
        ({"model": "wordllama-256", "input": ["x"] * 2049}, "input", "at most 2048 items"),
    ],
)
async def test_bad_requests_name_the_parameter(
    client: Client, make_tenant: Any, body: dict[str, Any], param: str, fragment: str
) -> None:
    tenant: Tenant = await make_tenant()
    resp = await client.post("/v1/embeddings", json=body, headers=bearer(await login(client, tenant)))
    assert resp.status == 400 and resp.content_type == "application/json"
    error = (await resp.json())["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"].split(".")[0] == param, error
    assert fragment in error["message"], error


async def test_unknown_model_and_too_long_input(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    oai = api(client, await login(client, tenant))
    with pytest.raises(openai.NotFoundError) as unknown:
        await oai.embeddings.create(model="text-embedding-3-small", input="x")
    assert unknown.value.code == "model_not_found" and unknown.value.param == "model"
    with pytest.raises(openai.BadRequestError) as long:
        await oai.embeddings.create(model="wordllama-256", input="word " * (model.MAX_TOKENS + 10))
    assert long.value.code == "context_length_exceeded" and long.value.param == "input"


async def test_credentials_are_required(client: Client, make_tenant: Any) -> None:
    with pytest.raises(openai.AuthenticationError) as denied:
        await api(client, None).embeddings.create(model="wordllama-256", input="x")
    assert denied.value.code == "invalid_api_key"
    resp = await client.get("/v1/models")
    assert resp.status == 401 and (await resp.json())["error"]["type"] == "authentication_error"


async def test_a_viewer_may_embed(client: Client, make_tenant: Any) -> None:
    tenant: Tenant = await make_tenant()
    admin = await login(client, tenant)
    await create_user(client, admin, "viewer@example.com", "viewer")
    viewer = await login(client, tenant, "viewer@example.com", "correct horse battery")
    response = await api(client, viewer).embeddings.create(model="wordllama-256", input="hi")
    assert len(response.data[0].embedding) == 256


async def test_embeddings_count_against_the_tenants_rate_limit(client: Client, make_tenant: Any) -> None:
    limited: Tenant = await make_tenant("rl", rate_limit_rps=0.1, rate_limit_burst=3)
    oai = api(client, await login(client, limited))
    outcomes = await asyncio.gather(
        *(oai.embeddings.create(model="wordllama-256", input="x") for _ in range(8)), return_exceptions=True
    )
    limited_errors = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
    assert len(limited_errors) >= 4 and all(
        not isinstance(o, Exception) or o in limited_errors for o in outcomes
    )
    assert limited_errors[0].code == "rate_limit_exceeded"
    assert int(limited_errors[0].response.headers["Retry-After"]) >= 1


async def test_embeddings_of_concurrent_requests_stay_with_their_request(
    client: Client, make_tenant: Any, reference: model.BuiltinModel
) -> None:
    tenant: Tenant = await make_tenant()
    oai = api(client, await login(client, tenant))
    texts = [f"question number {i} about shipping to city {i * 7}" for i in range(40)]
    responses = await asyncio.gather(
        *(oai.embeddings.create(model="wordllama-256", input=[t]) for t in texts)
    )
    got = np.array([r.data[0].embedding for r in responses], dtype=np.float32)
    assert np.allclose(got, reference.encode(texts).vectors, atol=1e-6)
