"""`/v1/chat/completions` through the official OpenAI client, with llama-server (tiny random model) as the
real upstream: plain and streamed answers, tools passed through, fallbacks, timeouts, unknown and foreign
models. The tiny model's text is random: these tests assert structure and counts, never text."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from aiohttp.test_utils import TestClient
from llama_process import LlamaServer, SilentUpstream, closed_port_url
from llm_helpers import make_caller, metric
from runtime_helpers import openai_client

pytestmark = pytest.mark.services

HELLO = [{"role": "user", "content": "Say hello."}]


async def test_plain_completion_is_the_upstreams_answer(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant = await make_tenant()
    model = await llm_engine(tenant, "chat")
    caller = await make_caller(client, tenant)

    answer = await caller.openai.chat.completions.create(model=model, messages=HELLO, max_tokens=8)

    assert answer.object == "chat.completion"
    assert len(answer.choices) == 1
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert choice.finish_reason in {"stop", "length"}
    assert answer.usage is not None
    assert answer.usage.prompt_tokens > 0
    assert 1 <= answer.usage.completion_tokens <= 8
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


async def test_max_tokens_is_capped_by_the_engine(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant = await make_tenant()
    model = await llm_engine(tenant, "capped", maxTokens=3)
    caller = await make_caller(client, tenant)

    answer = await caller.openai.chat.completions.create(
        model=model, messages=HELLO, max_tokens=500, extra_body={"ignore_eos": True}
    )

    assert answer.usage is not None and answer.usage.completion_tokens == 3
    assert answer.choices[0].finish_reason == "length"


async def test_stream_chunks_arrive_in_order_with_usage_and_done(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant = await make_tenant()
    model = await llm_engine(tenant, "chat")
    caller = await make_caller(client, tenant)

    stream = await caller.openai.chat.completions.create(
        model=model,
        messages=HELLO,
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = [chunk async for chunk in stream]

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    finishing = [c for c in with_choices if c.choices[0].finish_reason]
    assert len(finishing) == 1 and finishing[0].choices[0].finish_reason == "length"
    assert with_choices[-1] is finishing[0]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6
    assert chunks.index(finishing[0]) < len(chunks) - 1


async def test_raw_stream_is_server_sent_events_ending_in_done_without_an_unasked_usage_chunk(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant = await make_tenant()
    model = await llm_engine(tenant, "chat")
    caller = await make_caller(client, tenant)

    resp = await client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": HELLO, "max_tokens": 4, "stream": True, "ignore_eos": True},
        headers={"Authorization": f"Bearer {caller.tokens['access_token']}"},
    )
    body = await resp.read()

    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    events = [e for e in body.split(b"\n\n") if e]
    assert all(e.startswith(b"data: ") for e in events)
    assert events[-1] == b"data: [DONE]"
    payloads = [json.loads(e[6:]) for e in events[:-1]]
    assert all(p["choices"] for p in payloads), "the usage chunk was not asked for"
    assert 1 <= sum(1 for p in payloads if p["choices"][0]["delta"].get("content")) <= 4


async def test_tools_and_tool_choice_are_passed_through(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    """llama-server of this build does not constrain a random model to a tool call for these templates, so
    passthrough is shown by what the upstream does with the fields: its chat template renders `tools` into
    the prompt (the prompt grows by the schema), and it judges `tool_choice` itself (its own 400 for a value
    it does not know comes back to the client)."""
    tenant = await make_tenant()
    model = await llm_engine(tenant, "chat")
    caller = await make_caller(client, tenant)
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather of a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "enum": ["paris", "rome"]}},
                    "required": ["city"],
                },
            },
        }
    ]
    question = [{"role": "user", "content": "Weather in Paris?"}]

    plain = await caller.openai.chat.completions.create(model=model, messages=question, max_tokens=1)
    with_tools = await caller.openai.chat.completions.create(
        model=model, messages=question, tools=tools, tool_choice="auto", max_tokens=1
    )
    with pytest.raises(openai.BadRequestError) as refused:
        await caller.openai.chat.completions.create(
            model=model, messages=question, tools=tools, tool_choice="sometimes", max_tokens=1
        )

    assert plain.usage is not None and with_tools.usage is not None
    schema_tokens = len(json.dumps(tools[0]).encode())
    assert with_tools.usage.prompt_tokens > plain.usage.prompt_tokens + schema_tokens // 2
    assert "tool_choice" in str(refused.value.body)


async def test_a_down_upstream_falls_back_to_the_next(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any, tiny_llama: LlamaServer
) -> None:
    tenant = await make_tenant()
    model = await llm_engine(
        tenant,
        "chat",
        base_url=closed_port_url(),
        fallbacks=[
            {"baseURL": closed_port_url(), "model": "x"},
            {"baseURL": tiny_llama.base_url, "model": "y"},
        ],
    )
    caller = await make_caller(client, tenant)

    answer = await caller.openai.chat.completions.create(model=model, messages=HELLO, max_tokens=4)
    stream = await caller.openai.chat.completions.create(
        model=model, messages=HELLO, max_tokens=4, stream=True
    )
    streamed = [chunk async for chunk in stream]

    assert answer.usage is not None and answer.usage.completion_tokens >= 1
    assert streamed and streamed[-1].choices[0].finish_reason in {"stop", "length"}
    metrics = await (await client.get("/metrics")).text()
    assert metric(metrics, "neuroedge_llm_fallbacks_total", tenant=tenant.name, engine="chat") == 4


async def test_every_upstream_down_is_502(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant = await make_tenant()
    model = await llm_engine(
        tenant, "chat", base_url=closed_port_url(), fallbacks=[{"baseURL": closed_port_url(), "model": "x"}]
    )
    caller = await make_caller(client, tenant)

    with pytest.raises(openai.APIStatusError) as raised:
        await caller.openai.chat.completions.create(model=model, messages=HELLO, max_tokens=4)

    assert raised.value.status_code == 502
    error = raised.value.body
    assert isinstance(error, dict) and error["code"] == "upstream_unavailable"
    assert error["message"].count("unreachable") == 2


async def test_an_upstream_that_does_not_answer_is_504_not_a_fallback(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any, tiny_llama: LlamaServer
) -> None:
    silent = SilentUpstream()
    try:
        tenant = await make_tenant()
        model = await llm_engine(
            tenant,
            "chat",
            base_url=silent.base_url,
            timeoutSeconds=0.5,
            fallbacks=[{"baseURL": tiny_llama.base_url, "model": "y"}],
        )
        caller = await make_caller(client, tenant)
        for stream in (False, True):
            with pytest.raises(openai.APIStatusError) as raised:
                await caller.openai.chat.completions.create(
                    model=model, messages=HELLO, max_tokens=4, stream=stream
                )
            assert raised.value.status_code == 504
            assert isinstance(raised.value.body, dict) and raised.value.body["code"] == "upstream_timeout"
    finally:
        silent.close()


async def test_unknown_and_another_tenants_engine_are_the_same_404(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    owner, other = await make_tenant("own"), await make_tenant("oth")
    await llm_engine(owner, "secret-chat")
    caller = await make_caller(client, other)

    with pytest.raises(openai.NotFoundError) as foreign:
        await caller.openai.chat.completions.create(model="secret-chat", messages=HELLO)
    await llm_engine(other, "mine")
    with pytest.raises(openai.NotFoundError) as unknown:
        await caller.openai.chat.completions.create(model="secret-chat", messages=HELLO, stream=True)

    assert foreign.value.body == unknown.value.body
    assert isinstance(foreign.value.body, dict) and foreign.value.body["code"] == "model_not_found"
    listed = await caller.openai.models.list()
    tenants_models = [m.id for m in listed.data if m.owned_by != "neuroedge"]
    assert tenants_models == ["mine"], "another tenant's LLM Engine must not be listed"
    assert {m.id for m in listed.data} == {"mine", "wordllama-256"}


async def test_a_bad_request_is_400_in_openais_shape(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant = await make_tenant()
    model = await llm_engine(tenant, "chat")
    caller = await make_caller(client, tenant)

    with pytest.raises(openai.BadRequestError) as raised:
        await caller.openai.chat.completions.create(model=model, messages=[])

    assert isinstance(raised.value.body, dict)
    assert raised.value.body["type"] == "invalid_request_error"
    assert raised.value.body["param"] == "messages"


async def test_auth_failures_on_the_openai_routes_are_in_openais_shape(client: TestClient[Any, Any]) -> None:
    stranger = openai_client(client, "not-a-token", max_retries=0)

    with pytest.raises(openai.AuthenticationError) as raised:
        await stranger.chat.completions.create(model="chat", messages=HELLO)
    with pytest.raises(openai.AuthenticationError):
        await stranger.models.list()

    assert isinstance(raised.value.body, dict) and raised.value.body["type"] == "authentication_error"
    assert raised.value.response.headers["WWW-Authenticate"] == "Bearer"
