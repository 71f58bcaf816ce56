"""Token budgets, usage metering and conversation memory of the LLM gateway, through the OpenAI client with
llama-server (tiny random model) as the real upstream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import openai
import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestClient
from llm_helpers import make_caller, metric
from runtime_helpers import bearer

from neuroedge_runtime.llm import budget

pytestmark = pytest.mark.services

HELLO = [{"role": "user", "content": "Say hello."}]


async def _usage(client: TestClient[Any, Any], tokens: dict[str, Any]) -> dict[str, Any]:
    resp = await client.get("/usage", headers=bearer(tokens))
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def test_metering_equals_the_upstreams_reported_usage(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant = await make_tenant()
    await llm_engine(tenant, "chat")
    await llm_engine(tenant, "other")
    caller = await make_caller(client, tenant)

    plain = await caller.openai.chat.completions.create(model="chat", messages=HELLO, max_tokens=5)
    stream = await caller.openai.chat.completions.create(
        model="chat", messages=HELLO, max_tokens=7, stream=True, stream_options={"include_usage": True}
    )
    streamed = [chunk async for chunk in stream][-1].usage
    other = await caller.openai.chat.completions.create(model="other", messages=HELLO, max_tokens=3)

    assert plain.usage is not None and streamed is not None and other.usage is not None
    report = await _usage(client, caller.tokens)
    today = datetime.now(UTC).date().isoformat()
    rows = {row["engine"]: row for row in report["data"]}
    assert set(rows) == {"chat", "other"} and rows["chat"]["day"] == today
    assert rows["chat"]["requests"] == 2
    assert rows["chat"]["prompt_tokens"] == plain.usage.prompt_tokens + streamed.prompt_tokens
    assert rows["chat"]["completion_tokens"] == plain.usage.completion_tokens + streamed.completion_tokens
    assert rows["other"]["completion_tokens"] == other.usage.completion_tokens
    total = plain.usage.total_tokens + streamed.total_tokens + other.usage.total_tokens
    assert report["total_tokens"] == total
    metrics = await (await client.get("/metrics")).text()
    labels = {"tenant": tenant.name, "engine": "chat"}
    metered = metric(metrics, "neuroedge_llm_tokens_total", **labels, type="completion")
    assert metered == rows["chat"]["completion_tokens"]
    assert (
        metric(metrics, "neuroedge_llm_tokens_total", **labels, type="prompt")
        == rows["chat"]["prompt_tokens"]
    )


async def test_usage_of_one_tenant_is_invisible_to_another(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    user, stranger = await make_tenant("use"), await make_tenant("str")
    await llm_engine(user, "chat")
    caller = await make_caller(client, user)
    await caller.openai.chat.completions.create(model="chat", messages=HELLO, max_tokens=2)
    other = await make_caller(client, stranger)

    assert (await _usage(client, other.tokens))["data"] == []
    assert len((await _usage(client, caller.tokens))["data"]) == 1
    for bad in ("to=0.0", "from=20261130", "to=2026-02-30"):  # a number is no day, as the fuzzer tried
        resp = await client.get(f"/usage?{bad}", headers=bearer(caller.tokens))
        assert resp.status == 400, bad
        assert (
            resp.content_type == "application/problem+json"
            and bad.split("=")[0] in (await resp.json())["detail"]
        )


async def test_an_exhausted_budget_is_429_with_retry_after_and_resets(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any, redis_url: str
) -> None:
    tenant = await make_tenant(llm_tokens_per_minute=400)
    await llm_engine(tenant, "chat")
    caller = await make_caller(client, tenant)
    left = budget.seconds_to_reset(datetime.now(UTC))[0]
    if left < 15:  # the first two requests must share one minute window
        await asyncio.sleep(left + 0.5)

    first = await caller.openai.chat.completions.create(
        model="chat", messages=HELLO, max_tokens=100, extra_body={"ignore_eos": True}
    )
    assert first.usage is not None
    r = redis.Redis.from_url(redis_url)
    key = budget.window_keys(tenant.name, datetime.now(UTC))[0]
    assert int(await r.get(key) or 0) == first.usage.total_tokens, "the reservation settled to the real usage"

    with pytest.raises(openai.RateLimitError) as raised:
        await caller.openai.chat.completions.create(model="chat", messages=HELLO, max_tokens=350)

    retry_after = int(raised.value.response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert isinstance(raised.value.body, dict) and raised.value.body["code"] == "token_budget_exhausted"
    assert int(await r.get(key) or 0) == first.usage.total_tokens, "a refused request holds nothing"
    await r.aclose()
    await asyncio.sleep(retry_after)
    after = await caller.openai.chat.completions.create(model="chat", messages=HELLO, max_tokens=350)
    assert after.usage is not None


async def test_memory_keeps_the_turns_of_a_conversation_per_tenant(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant, other = await make_tenant("mem"), await make_tenant("mom")
    await llm_engine(tenant, "chat")
    await llm_engine(other, "chat")
    caller, stranger = await make_caller(client, tenant), await make_caller(client, other)
    turn = [{"role": "user", "content": "And again?"}]

    alone = await caller.openai.chat.completions.create(model="chat", messages=turn, max_tokens=4)
    conv = {"X-Conversation-ID": "conv-1"}
    first = await caller.openai.chat.completions.create(
        model="chat", messages=HELLO, max_tokens=4, extra_headers=conv
    )
    second = await caller.openai.chat.completions.create(
        model="chat", messages=turn, max_tokens=4, extra_headers=conv
    )
    foreign = await stranger.openai.chat.completions.create(
        model="chat", messages=turn, max_tokens=4, extra_headers=conv
    )

    assert alone.usage and first.usage and second.usage and foreign.usage
    # The second turn's prompt is the first turn (question and answer) plus the new message.
    assert second.usage.prompt_tokens > alone.usage.prompt_tokens + first.usage.prompt_tokens - 10
    assert foreign.usage.prompt_tokens == alone.usage.prompt_tokens, "another tenant's conv-1 is its own"


async def test_a_malformed_conversation_id_is_400(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any
) -> None:
    tenant = await make_tenant()
    await llm_engine(tenant, "chat")
    caller = await make_caller(client, tenant)

    with pytest.raises(openai.BadRequestError):
        await caller.openai.chat.completions.create(
            model="chat", messages=HELLO, extra_headers={"X-Conversation-ID": "a b"}
        )
