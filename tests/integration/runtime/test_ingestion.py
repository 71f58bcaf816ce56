"""`POST /vector/ingest` on the real queue: real `neuroedge runtime worker` processes chunk, embed and upsert;
5,000 documents survive a worker killed midway with no chunk lost or duplicated; re-ingesting replaces a
document's chunks; both backends; bad input and other tenants' ids get clear errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from qdrant_client import models as qm
from runtime_helpers import Tenant, add_index, bearer, login, set_embedding

from neuroedge_runtime import keys
from neuroedge_runtime.embeddings import chunking
from neuroedge_runtime.vectors import ingest_worker, ingestion

Client = TestClient[Any, Any]
NEUROEDGE_RUNTIME = Path(sys.executable).parent / "neuroedge-runtime"
SpawnWorker = Callable[..., subprocess.Popen[bytes]]
TOPICS = ["billing", "shipping", "account", "returns", "privacy"]


@pytest.fixture
def pool() -> str:
    return f"ingest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def spawn_worker(
    redis_url: str, runtime_database_url: str, pool: str, tmp_path: Path
) -> Iterator[SpawnWorker]:
    """`spawn_worker(tenant, consumer, **env)`: a worker process of `pool` that runs ingestion jobs."""
    started: list[subprocess.Popen[bytes]] = []

    def spawn(tenant: str, consumer: str, **extra: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": runtime_database_url,
            "NEUROEDGE_WORKER_VECTORS": "1",
            "NEUROEDGE_TENANT": tenant,
            "NEUROEDGE_POOL": pool,
            "NEUROEDGE_CONSUMER": consumer,
            "NEUROEDGE_RETRY_BASE_SECONDS": "0.05",
            **extra,
        }
        log = (tmp_path / f"worker-{consumer}.log").open("ab")
        proc = subprocess.Popen([str(NEUROEDGE_RUNTIME), "worker"], env=env, stdout=log, stderr=log)
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        proc.kill()
        proc.wait(timeout=10)


def document(i: int) -> dict[str, Any]:
    """Short documents, every seventh one long enough for several chunks."""
    topic = TOPICS[i % len(TOPICS)]
    text = f"Document {i} is about {topic}: customers ask how {topic} works for order {i * 13}."
    if i % 7 == 0:
        text = " ".join([text] * 6)
    return {"id": f"d{i}", "text": text, "payload": {"topic": topic}}


def expected_chunks(documents: list[dict[str, Any]], size: int, overlap: int) -> dict[str, str]:
    settings = chunking.Chunking(size, overlap)
    return {
        ingestion.chunk_id(d["id"], n): text
        for d in documents
        for n, text in enumerate(chunking.split(d["text"], settings))
    }


async def accept(client: Client, tokens: dict[str, Any], body: dict[str, Any], status: int = 202) -> Any:
    resp = await client.post("/vector/ingest", json=body, headers=bearer(tokens))
    assert resp.status == status, await resp.text()
    return await resp.json()


async def progress(client: Client, tokens: dict[str, Any], ingestion_id: str) -> dict[str, Any]:
    resp = await client.get(f"/vector/ingest/{ingestion_id}", headers=bearer(tokens))
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def wait_done(client: Client, tokens: dict[str, Any], ingestion_id: str, timeout: float = 240) -> Any:
    for _ in range(int(timeout / 0.2)):
        doc = await progress(client, tokens, ingestion_id)
        if doc["status"] != "running":
            return doc
        await asyncio.sleep(0.2)
    pytest.fail(f"ingestion {ingestion_id} still running after {timeout}s: {doc}")


async def stored(admin_pool: Any, storage: str, tenant: str) -> dict[str, str]:
    rows = await admin_pool.fetch(
        f"SELECT id, payload ->> 'text' AS text FROM neuroedge.\"{storage}\" WHERE tenant_id = $1", tenant
    )
    return {r["id"]: r["text"] for r in rows}


async def text_index(admin_pool: Any, tenant: str, name: str = "kb") -> str:
    storage = await add_index(admin_pool, tenant, name, "pgvector", 256)
    await set_embedding(admin_pool, tenant, name)
    return storage


async def test_5000_documents_survive_a_worker_killed_midway(
    make_client: Any, make_tenant: Any, admin_pool: Any, pool: str, spawn_worker: SpawnWorker
) -> None:
    client: Client = await make_client(pool=pool, max_body_bytes=16 << 20)
    tenant: Tenant = await make_tenant("ingest")
    storage = await text_index(admin_pool, tenant.name)
    tokens = await login(client, tenant)
    documents = [document(i) for i in range(5000)]
    want = expected_chunks(documents, 200, 40)
    accepted = await accept(
        client, tokens, {"index": "kb", "documents": documents, "chunking": {"size": 200, "overlap": 40}}
    )
    assert accepted["status"] == "running" and accepted["documents"] == 5000
    assert accepted["chunks_total"] == len(want) and accepted["chunks_done"] == 0 and accepted["jobs"] > 5

    first = spawn_worker(tenant.name, "first", NEUROEDGE_CONCURRENCY="1")
    for _ in range(600):
        seen = await progress(client, tokens, accepted["id"])
        if seen["chunks_done"] > 0:
            break
        await asyncio.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    at_kill = await progress(client, tokens, accepted["id"])
    assert 0 < at_kill["chunks_done"] < len(want), at_kill  # killed midway, with jobs left

    spawn_worker(tenant.name, "second", NEUROEDGE_CLAIM_IDLE_SECONDS="5", NEUROEDGE_JOB_TIMEOUT_SECONDS="4")
    done = await wait_done(client, tokens, accepted["id"])
    assert done["status"] == "succeeded", done
    assert done["chunks_done"] == done["chunks_total"] == len(want)
    assert await stored(admin_pool, storage, tenant.name) == want  # every chunk once, none lost, text intact

    # Exact: these documents are five tight clusters of near-copies, on which an HNSW walk now and then
    # settles in the wrong cluster (seen once in CI: five "account" hits at 0.24 with 1,286 privacy chunks
    # above 0.75). The question here is whether the stored vectors embed their texts, not HNSW's recall.
    found = await client.post(
        "/vector/search",
        json={"index": "kb", "text": "how does privacy work", "top_k": 5, "params": {"exact": True}},
        headers=bearer(tokens),
    )
    hits = (await found.json())["hits"]
    assert len(hits) == 5 and all(h["payload"]["topic"] == "privacy" for h in hits), hits


async def test_reingesting_a_document_replaces_its_chunks(
    make_client: Any, make_tenant: Any, admin_pool: Any, pool: str, spawn_worker: SpawnWorker
) -> None:
    client: Client = await make_client(pool=pool)
    tenant: Tenant = await make_tenant("ingest")
    storage = await text_index(admin_pool, tenant.name)
    tokens = await login(client, tenant)
    spawn_worker(tenant.name, "only")
    long_text = " ".join(f"Sentence {i} of the original manual." for i in range(40))
    body = {
        "index": "kb",
        "documents": [{"id": "manual", "text": long_text}],
        "chunking": {"size": 200, "overlap": 0},
    }
    first = await wait_done(client, tokens, (await accept(client, tokens, body))["id"])
    assert first["status"] == "succeeded" and first["chunks_total"] > 3
    body["documents"] = [{"id": "manual", "text": "The manual now fits in one chunk."}]
    second = await wait_done(client, tokens, (await accept(client, tokens, body))["id"])
    assert second["chunks_done"] == 1
    assert await stored(admin_pool, storage, tenant.name) == {"manual#0": "The manual now fits in one chunk."}


async def test_ingestion_jobs_on_qdrant(client: Client, make_tenant: Any, admin_pool: Any) -> None:
    """The job handler itself (what a worker runs) against a Qdrant-backed index in local mode."""
    tenant: Tenant = await make_tenant("ingest")
    storage = await add_index(admin_pool, tenant.name, "kb", "qdrant", 256)
    await set_embedding(admin_pool, tenant.name, "kb")
    await client.server.app[keys.QDRANT].create_collection(
        storage, vectors_config=qm.VectorParams(size=256, distance=qm.Distance.COSINE)
    )
    service = client.server.app[keys.VECTORS]
    documents = [document(i) for i in range(50)]
    job = ingestion.JobInput.model_validate(
        {"index": "kb", "documents": documents, "chunking": {"size": 200, "overlap": 40}}
    )
    want = expected_chunks(documents, 200, 40)
    assert await ingest_worker.ingest(service, tenant.name, job) == {"documents": 50, "chunks": len(want)}
    assert await ingest_worker.ingest(service, tenant.name, job) == {"documents": 50, "chunks": len(want)}
    tokens = await login(client, tenant)
    assert await _count(client, tokens) == len(want)  # re-running a job adds nothing
    short = ingestion.JobInput.model_validate(
        {
            "index": "kb",
            "documents": [{"id": "d0", "text": "short now"}],
            "chunking": {"size": 200, "overlap": 0},
        }
    )
    await ingest_worker.ingest(service, tenant.name, short)
    assert await _count(client, tokens) == len(want) - len([k for k in want if k.startswith("d0#")]) + 1


async def _count(client: Client, tokens: dict[str, Any]) -> int:
    listing = await (await client.get("/vector/indexes", headers=bearer(tokens))).json()
    return int(listing["indexes"][0]["points"])


async def test_bad_ingestions_get_clear_errors(
    make_client: Any, make_tenant: Any, admin_pool: Any, pool: str
) -> None:
    client: Client = await make_client(pool=pool)
    tenant: Tenant = await make_tenant("ingest")
    await add_index(admin_pool, tenant.name, "raw", "pgvector", 3)
    await text_index(admin_pool, tenant.name)
    tokens = await login(client, tenant)
    docs = [{"id": "a", "text": "hello"}]
    problem = await accept(client, tokens, {"index": "raw", "documents": docs}, status=422)
    assert "no embedding model" in problem["detail"] and problem["errors"][0]["loc"] == ["index"]
    await accept(client, tokens, {"index": "nope", "documents": docs}, status=404)
    problem = await accept(
        client, tokens, {"index": "kb", "documents": docs, "chunking": {"size": 10}}, status=422
    )
    assert problem["errors"][0]["loc"] == ["chunking", "size"]

    no_pool: Client = await make_client()
    problem = await accept(
        no_pool, await login(no_pool, tenant), {"index": "kb", "documents": docs}, status=503
    )
    assert "NEUROEDGE_POOL" in problem["detail"]

    mine = await accept(client, tokens, {"index": "kb", "documents": docs})
    other: Tenant = await make_tenant("other")
    resp = await client.get(f"/vector/ingest/{mine['id']}", headers=bearer(await login(client, other)))
    assert resp.status == 404  # another tenant's ingestion is not found, not forbidden
    resp = await client.get("/vector/ingest/not-an-id", headers=bearer(tokens))
    assert resp.status == 404
