"""Fixtures of the LLM gateway tests: llama-server (built once by the dev toolchain) with the tiny random
model and with Gemma 3 270M, and LLM Engines registered for fresh tenants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
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


NEUROEDGE_RUNTIME = Path(sys.executable).parent / "neuroedge-runtime"
ScriptedLlama = Callable[[str, dict[str, Any]], LlamaServer]


@pytest.fixture
def scripted_llama(llama_binary: Path, tmp_path: Path) -> Iterator[ScriptedLlama]:
    """`scripted_llama(tool, arguments)`: llama-server with a model that answers every prompt with a Hermes
    tool call of `tool` with `arguments` (llama-server parses it into OpenAI `tool_calls`)."""
    servers: list[LlamaServer] = []

    def start(tool: str, arguments: dict[str, Any]) -> LlamaServer:
        call = json.dumps({"name": tool, "arguments": arguments})
        work = tmp_path / f"scripted-{len(servers)}"
        work.mkdir()
        model = llm_models.write_scripted_llama(work / "scripted.gguf", f"<tool_call>\n{call}\n</tool_call>")
        servers.append(LlamaServer(llama_binary, model, work / "llama-server.log", slots=2))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


SpawnWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def spawn_worker(redis_url: str, runtime_database_url: str, tmp_path: Path) -> Iterator[SpawnWorker]:
    """`spawn_worker(tenant, pool)`: a real worker process (with the database: ingestion and LLM agents)."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(tenant: str, pool: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": runtime_database_url,
            "NEUROEDGE_WORKER_VECTORS": "1",
            "NEUROEDGE_TENANT": tenant,
            "NEUROEDGE_POOL": pool,
            "NEUROEDGE_CONSUMER": f"agent-{len(started)}",
        }
        log = (tmp_path / f"worker-{len(started)}.log").open("ab")
        started.append(subprocess.Popen([str(NEUROEDGE_RUNTIME), "worker"], env=env, stdout=log, stderr=log))
        return started[-1]

    yield spawn
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)
