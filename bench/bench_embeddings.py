"""Benchmark of embeddings and text retrieval: `/v1/embeddings` texts/s beside the built-in model called
in-process (the ceiling), ingestion documents/s for 10,000 short documents through `/vector/ingest` and one
worker beside the in-process embedding of the same documents, and text search p50/p99 at 32 clients beside
vector search with a precomputed vector on the same index.

The runtime (`neuroedge runtime api`) and the worker (`neuroedge runtime worker`) run as separate processes
with production defaults; the load generator is bench_runtime's wrk (bench/run.py installs it through the
dev toolchain). Needs DATABASE_URL (superuser) and REDIS_URL; prints one JSON object per result.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg

import bench_runtime as rt  # the sibling script: tenant provisioning, load generator, emit
from neuroedge_operator.builders import pgvector
from neuroedge_runtime.embeddings import model

POOL = "bench-ingest"
DOCUMENTS = 10_000
BATCH = 64
TOPICS = ["billing", "shipping", "account", "returns", "privacy", "security", "pricing", "support"]


def short_document(i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return f"Note {i}: customers asked about {topic} for order {i * 7919 % 100_000}; answered the same day."


async def text_index(admin_dsn: str, tenant: str) -> None:
    """A 256-dimensional pgvector index with the built-in model (as the operator makes for spec.embedding)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        storage = pgvector.storage_name(tenant, "kb")
        await conn.execute(
            "INSERT INTO neuroedge.vector_indexes (tenant_id, name, backend, dimension, distance, "
            "storage_name, embedding_model, embedding_provider) "
            "VALUES ($1, 'kb', 'pgvector', 256, 'Cosine', $2, 'wordllama-256', 'builtin')",
            tenant,
            storage,
        )
        for statement in pgvector.create_table_sql(storage, 256, "Cosine"):
            await conn.execute(statement)
    finally:
        await conn.close()


def in_process_texts_per_second(texts: list[str], seconds: float) -> float:
    builtin = model.BuiltinModel()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        builtin.encode(texts[done % len(texts) : done % len(texts) + BATCH] or texts[:BATCH])
        done += BATCH
    return done / (time.perf_counter() - started)


async def endpoint_texts_per_second(base: str, token: str, texts: list[str], seconds: float) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, offset: int) -> None:
        nonlocal done
        position = offset
        while time.perf_counter() < deadline:
            batch = texts[position % len(texts) : position % len(texts) + BATCH] or texts[:BATCH]
            body = {"model": model.MODEL_ID, "input": batch, "encoding_format": "base64"}
            async with session.post(f"{base}/v1/embeddings", json=body, headers=headers) as resp:
                resp.raise_for_status()
                await resp.read()
            done += len(batch)
            position += BATCH

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(session, i * 997) for i in range(rt.CONNECTIONS)))
    return done / (time.perf_counter() - started)


async def ingest(base: str, token: str, documents: list[str]) -> float:
    """Seconds from POST /vector/ingest to the ingestion's success."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {
        "index": "kb",
        "documents": [{"id": f"n{i}", "text": text} for i, text in enumerate(documents)],
        "chunking": {"size": 500, "overlap": 50},
    }
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        async with session.post(f"{base}/vector/ingest", json=body, headers=headers) as resp:
            resp.raise_for_status()
            accepted = await resp.json()
        while True:
            async with session.get(f"{base}/vector/ingest/{accepted['id']}", headers=headers) as resp:
                state = await resp.json()
            if state["status"] != "running":
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    if state["status"] != "succeeded" or state["chunks_done"] != len(documents):
        raise RuntimeError(f"ingestion did not complete: {state}")
    return elapsed


def main() -> int:
    admin_dsn, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-embeddings-"))
    credentials = tmp / "credentials"
    dsn, tenant, email, password = asyncio.run(rt.provision(admin_dsn, credentials))
    asyncio.run(text_index(admin_dsn, tenant))
    port = rt.free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "NEUROEDGE_CREDENTIALS_DIR": str(credentials),
        "NEUROEDGE_RUNTIME_PORT": str(port),
        "NEUROEDGE_POOL": POOL,
        "NEUROEDGE_MAX_BODY_BYTES": str(16 << 20),
        "NEUROEDGE_TENANT": tenant,
        "NEUROEDGE_WORKER_VECTORS": "1",
    }
    cli = [sys.executable, "-m", "neuroedge_runtime.cli"]
    with (tmp / "runtime.log").open("w") as log, (tmp / "worker.log").open("w") as worker_log:
        runtime = subprocess.Popen([*cli, "api"], env=env, stderr=log, stdout=subprocess.DEVNULL)
        worker = subprocess.Popen([*cli, "worker"], env=env, stderr=worker_log, stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        rt.wait_http(f"{base}/health")
        token = asyncio.run(rt.access_token(base, tenant, email, password))
        texts = [short_document(i) for i in range(DOCUMENTS)]
        seconds = max(2.0, rt.DURATION)
        ceiling = in_process_texts_per_second(texts, seconds)
        served = asyncio.run(endpoint_texts_per_second(base, token, texts, seconds))
        rt.emit("embeddings_v1_texts_per_s", served, "texts/s", "embeddings_in_process_texts_per_s", ceiling)

        started = time.perf_counter()
        model.BuiltinModel().encode(texts)
        embed_only = DOCUMENTS / (time.perf_counter() - started)
        elapsed = asyncio.run(ingest(base, token, texts))
        rt.emit("ingest_docs_per_s", DOCUMENTS / elapsed, "docs/s", "embed_in_process_docs_per_s", embed_only)

        query = "how are refunds for returns handled"
        vector = model.BuiltinModel().encode([query]).vectors[0].tolist()
        url, auth = f"{base}/vector/search", f"Bearer {token}"
        by_text = json.dumps({"index": "kb", "text": query, "top_k": 10})
        by_vector = json.dumps({"index": "kb", "vector": vector, "top_k": 10})
        script = tmp / "bench.lua"
        script.write_text(rt.WRK_SCRIPT)

        def load(body: str) -> dict[str, float]:
            return rt.run_wrk("POST", url, body, auth, script)

        load(by_vector)  # warm-up
        text_result, vector_result = load(by_text), load(by_vector)
        for result in (text_result, vector_result):
            if result["failed"]:
                raise RuntimeError(f"{result['failed']} failed searches")
        for p in ("p50", "p99"):
            rt.emit(f"text_search_{p}", text_result[p], "ms", f"vector_search_256_{p}", vector_result[p])
    finally:
        for proc in (runtime, worker):
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
