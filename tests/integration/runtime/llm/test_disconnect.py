"""A client that disconnects mid-stream cancels the generation upstream (llama-server with Gemma 3 270M:
slow enough on this machine's cores that the full answer would take many seconds)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from llama_process import LlamaServer
from llm_helpers import make_caller

pytestmark = pytest.mark.services

MAX_TOKENS = 6000


async def _idle(server: LlamaServer, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        slots = await asyncio.to_thread(server.get_json, "/slots")
        if not any(slot["is_processing"] for slot in slots):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_client_disconnect_cancels_the_upstream_generation(
    client: TestClient[Any, Any], make_tenant: Any, llm_engine: Any, gemma_llama: LlamaServer
) -> None:
    tenant = await make_tenant()
    model = await llm_engine(
        tenant, "gemma", base_url=gemma_llama.base_url, model="gemma", maxTokens=MAX_TOKENS
    )
    caller = await make_caller(client, tenant)
    before = await asyncio.to_thread(gemma_llama.metric, "llamacpp:tokens_predicted_total")

    stream = await caller.openai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me a very long story about a lighthouse."}],
        max_tokens=MAX_TOKENS,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    received = 0
    async for chunk in stream:
        received += bool(chunk.choices and chunk.choices[0].delta.content)
        if received == 5:
            break
    await stream.close()

    assert await _idle(gemma_llama, within=15), "llama-server still generating after the client left"
    generated = await asyncio.to_thread(gemma_llama.metric, "llamacpp:tokens_predicted_total") - before
    assert 5 <= generated < MAX_TOKENS / 2
    # The tokens streamed before the disconnect were settled and metered (estimated: no usage chunk came).
    resp = await client.get("/usage", headers={"Authorization": f"Bearer {caller.tokens['access_token']}"})
    rows = (await resp.json())["data"]
    assert rows[0]["requests"] == 1 and rows[0]["completion_tokens"] >= 5
