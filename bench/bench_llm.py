"""Benchmark of the LLM gateway: time to first token and total time of a streamed chat completion through
NeuroEdge (`/v1/chat/completions`: auth, budget reservation, metering) beside the same request sent
straight to llama-server, alternating in the same run; and the chunks received each way (the gateway must not
coalesce them: streaming adds no buffering).

The upstream is the dev toolchain's llama-server with the tiny random-weight model (generation is then cheap,
so what is measured is the gateway's own overhead). The runtime runs as its own process (`neuroedge runtime
api`, production defaults). Needs DATABASE_URL (superuser) and REDIS_URL; prints one JSON object per result.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

from bench_runtime import access_token, emit, free_port, provision, wait_http
from neuroedge_dev import llama, llm_models

ROUNDS = int(os.environ.get("BENCH_LLM_ROUNDS", "60"))
MAX_TOKENS = 32


def body(model: str) -> dict[str, object]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Write a short poem about the sea."}],
        "max_tokens": MAX_TOKENS,
        "stream": True,
        "temperature": 0,
        "seed": 7,
        "ignore_eos": True,
    }


def _content(event: bytes) -> str:
    """The content of a chunk's first choice, parsed (the gateway and llama-server space JSON differently)."""
    choices = json.loads(event).get("choices") or [{}]
    return str((choices[0].get("delta") or {}).get("content") or "")


async def stream_once(
    session: aiohttp.ClientSession, url: str, payload: dict[str, object], auth: str
) -> tuple[float, float, int]:
    """(seconds to the first content chunk, seconds to the end, content chunks) of one streamed completion."""
    headers = {"Authorization": auth} if auth else {}
    started = time.perf_counter()
    first = 0.0
    chunks = 0
    async with session.post(url, json=payload, headers=headers) as resp:
        resp.raise_for_status()
        async for line in resp.content:
            if line.startswith(b"data: {") and _content(line[len(b"data: ") :]):
                chunks += 1
                if not first:
                    first = time.perf_counter() - started
    return first, time.perf_counter() - started, chunks


async def measure(gateway: str, direct: str, token: str) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {
        k: [] for k in ("gw_ttft", "gw_total", "gw_chunks", "d_ttft", "d_total", "d_chunks")
    }
    async with aiohttp.ClientSession() as session:
        for _ in range(5):  # warm-up: connections, prompt cache, registry caches
            await stream_once(session, direct, body("tiny"), "")
            await stream_once(session, gateway, body("chat"), f"Bearer {token}")
        for _ in range(ROUNDS):
            for prefix, url, model, auth in (
                ("d", direct, "tiny", ""),
                ("gw", gateway, "chat", f"Bearer {token}"),
            ):
                ttft, total, chunks = await stream_once(session, url, body(model), auth)
                series[f"{prefix}_ttft"].append(ttft * 1000)
                series[f"{prefix}_total"].append(total * 1000)
                series[f"{prefix}_chunks"].append(chunks)
    return series


async def add_engine(admin_dsn: str, tenant: str, base_url: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        config = {"llm": json.dumps({"baseURL": base_url, "model": "tiny", "maxTokens": 4096})}
        await conn.execute(
            "INSERT INTO neuroedge.engines (tenant_id, name, kind, config) "
            "VALUES ($1, 'chat', 'conversation', $2)",
            tenant,
            json.dumps(config),
        )
    finally:
        await conn.close()


def main() -> int:
    admin_dsn, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-llm-"))
    model = llm_models.write_tiny_llama(tmp / "tiny.gguf")
    llama_port, rt_port = free_port(), free_port()
    with (tmp / "llama-server.log").open("w") as log:
        server = subprocess.Popen(
            [str(llama.build()), "--model", str(model), "--host", "127.0.0.1", "--port", str(llama_port),
             "--ctx-size", "4096", "--parallel", "1", "--threads", "1", "--jinja"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    dsn, tenant, email, password = asyncio.run(provision(admin_dsn, tmp / "credentials"))
    asyncio.run(add_engine(admin_dsn, tenant, f"http://127.0.0.1:{llama_port}/v1"))
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "NEUROEDGE_CREDENTIALS_DIR": str(tmp / "credentials"),
        "NEUROEDGE_RUNTIME_PORT": str(rt_port),
    }
    with (tmp / "runtime.log").open("w") as log:
        runtime = subprocess.Popen(
            [sys.executable, "-m", "neuroedge_runtime.cli", "api"],
            env=env,
            stderr=log,
            stdout=subprocess.DEVNULL,
        )
    try:
        base = f"http://127.0.0.1:{rt_port}"
        wait_http(f"{base}/health")
        wait_http(f"http://127.0.0.1:{llama_port}/health", 120)
        token = asyncio.run(access_token(base, tenant, email, password))
        series = asyncio.run(
            measure(
                f"{base}/v1/chat/completions", f"http://127.0.0.1:{llama_port}/v1/chat/completions", token
            )
        )
        p50 = {k: statistics.median(v) for k, v in series.items()}
        print(f"{ROUNDS} alternating streamed completions of {MAX_TOKENS} tokens each way", flush=True)
        emit("llm_stream_ttft_p50", p50["gw_ttft"], "ms", "llama_server_direct_ttft_p50", p50["d_ttft"])
        emit("llm_stream_total_p50", p50["gw_total"], "ms", "llama_server_direct_total_p50", p50["d_total"])
        emit(
            "llm_stream_chunks_p50",
            p50["gw_chunks"],
            "chunks",
            "llama_server_direct_chunks_p50",
            p50["d_chunks"],
        )
        print(f"added time to first token at p50: {p50['gw_ttft'] - p50['d_ttft']:.2f} ms", flush=True)
    finally:
        for proc in (runtime, server):
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
