"""Fixtures of the LLM gateway tests: llama-server (built once by the dev toolchain) with the tiny random
model and with Gemma 3 270M, and LLM Engines registered for fresh tenants."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from llama_process import LlamaServer
from llm_helpers import llm_config
from runtime_helpers import Tenant, add_engine

from neuroedge_dev import llama, llm_models


@pytest.fixture(scope="session")
def llama_binary() -> Path:
    return llama.build()


@pytest.fixture(scope="session")
def tiny_llama(llama_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server with the tiny random-weight model (structure, not text)."""
    work = tmp_path_factory.mktemp("tiny-llama")
    model = llm_models.write_tiny_llama(work / "tiny.gguf")
    server = LlamaServer(llama_binary, model, work / "llama-server.log", slots=4)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gemma_llama(llama_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-server with Gemma 3 270M (real text, and slow enough to be cut mid-generation)."""
    work = tmp_path_factory.mktemp("gemma-llama")
    server = LlamaServer(llama_binary, llm_models.gemma(), work / "llama-server.log", context=8192, slots=1)
    yield server
    server.stop()


@pytest.fixture
async def llm_engine(admin_pool: asyncpg.Pool, tiny_llama: LlamaServer) -> AsyncIterator[Any]:
    """Registers an LLM Engine for a tenant: `await llm_engine(tenant, name, **llm_fields)`."""

    async def register(tenant: Tenant, name: str = "chat", base_url: str | None = None, **extra: Any) -> str:
        await add_engine(
            admin_pool,
            tenant.name,
            name,
            "conversation",
            llm_config(base_url or tiny_llama.base_url, **extra),
        )
        return name

    yield register
