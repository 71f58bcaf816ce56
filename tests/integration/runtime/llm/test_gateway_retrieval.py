"""Retrieval in `/v1/chat/completions`: an LLM Engine with `config.vectorIndex` puts the top-k passages of the
last user message (searched by text in the tenant's own pgvector index) into the prompt with their ids and
returns them as `sources`; streams carry them in a header. The prompt is checked exactly: llama-server's own
template and tokenizer give the prompt's token count with the passages, which must equal the reported usage.
Answers carry the Engine's name as `model`, streamed or not."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import openai
import pytest
from aiohttp.test_utils import TestClient
from llama_process import LlamaServer
from llm_helpers import llm_config, make_caller
from runtime_helpers import Tenant, add_engine, add_index, bearer, login, set_embedding

from neuroedge_runtime.llm import retrieval

pytestmark = pytest.mark.services
Client = TestClient[Any, Any]
PASSAGES = [
    ("refunds#0", "Refunds are paid back to the original card within five business days."),
    ("shipping#0", "Parcels leave the warehouse within two days and tracking is emailed."),
    ("passwords#0", "To reset your password, open Settings and click Reset password."),
]
QUESTION = [{"role": "user", "content": "How long do refunds take to reach my card?"}]


def post_json(server: LlamaServer, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        server.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def prompt_tokens(server: LlamaServer, messages: list[dict[str, Any]]) -> int:
    """The prompt llama-server builds for `messages`, counted by its own tokenizer."""
    prompt = post_json(server, "/apply-template", {"messages": messages})["prompt"]
    return len(post_json(server, "/tokenize", {"content": prompt, "add_special": False})["tokens"])


async def knowledge_base(client: Client, admin_pool: Any, tenant: Tenant) -> None:
    await add_index(admin_pool, tenant.name, "kb", "pgvector", 256)
    await set_embedding(admin_pool, tenant.name, "kb")
    tokens = await login(client, tenant)
    points = [{"id": i, "text": t} for i, t in PASSAGES]
    resp = await client.post("/vector/insert", json={"index": "kb", "points": points}, headers=bearer(tokens))
    assert resp.status == 200, await resp.text()


async def test_the_top_passages_go_into_the_prompt_with_their_ids_and_come_back_as_sources(
    client: Client, make_tenant: Any, admin_pool: Any, tiny_llama: LlamaServer
) -> None:
    tenant: Tenant = await make_tenant()
    await knowledge_base(client, admin_pool, tenant)
    config = {**llm_config(tiny_llama.base_url), "vectorIndex": "kb", "topK": "2"}
    await add_engine(admin_pool, tenant.name, "support", "conversation", config)
    caller = await make_caller(client, tenant)

    answer = await caller.openai.chat.completions.create(model="support", messages=QUESTION, max_tokens=2)

    extra = answer.model_extra or {}
    sources = extra["sources"]
    assert sources[0]["id"] == "refunds#0" and len(sources) == 2
    assert sources[0]["score"] >= sources[1]["score"]
    passages = [retrieval.Passage(s["id"], dict(PASSAGES)[s["id"]], s["score"]) for s in sources]
    assert answer.usage is not None
    assert answer.usage.prompt_tokens == prompt_tokens(tiny_llama, retrieval.augment(QUESTION, passages))
    assert answer.usage.prompt_tokens > prompt_tokens(tiny_llama, QUESTION)
    assert answer.model == "support"


async def test_a_stream_names_its_sources_in_a_header_and_the_engine_in_every_chunk(
    client: Client, make_tenant: Any, admin_pool: Any, tiny_llama: LlamaServer
) -> None:
    tenant: Tenant = await make_tenant()
    await knowledge_base(client, admin_pool, tenant)
    config = {**llm_config(tiny_llama.base_url), "vectorIndex": "kb", "topK": "3"}
    await add_engine(admin_pool, tenant.name, "support", "conversation", config)
    tokens = await login(client, tenant)
    body = {
        "model": "support",
        "messages": QUESTION,
        "max_tokens": 4,
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    resp = await client.post("/v1/chat/completions", json=body, headers=bearer(tokens))
    text = await resp.text()

    assert resp.status == 200, text
    ids = json.loads(resp.headers["X-NeuroEdge-Sources"])
    assert ids[0] == "refunds#0" and sorted(ids) == sorted(i for i, _ in PASSAGES)
    chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    assert chunks and all(chunk["model"] == "support" for chunk in chunks)
    assert text.rstrip().endswith("data: [DONE]")


async def test_an_engine_cannot_retrieve_from_another_tenants_index(
    client: Client, make_tenant: Any, admin_pool: Any, tiny_llama: LlamaServer
) -> None:
    owner: Tenant = await make_tenant()
    await knowledge_base(client, admin_pool, owner)
    other: Tenant = await make_tenant()
    config = {**llm_config(tiny_llama.base_url), "vectorIndex": "kb"}
    await add_engine(admin_pool, other.name, "support", "conversation", config)
    caller = await make_caller(client, other)

    with pytest.raises(openai.BadRequestError) as refused:
        await caller.openai.chat.completions.create(model="support", messages=QUESTION, max_tokens=2)

    error = refused.value.body
    assert isinstance(error, dict) and error["code"] == "retrieval_failed"
    assert "kb" in error["message"] and "refunds" not in json.dumps(error).lower()
