"""VectorIndex (pgvector) figures: an HNSW rebuild on a table with data, and an idle reconcile pass.

Run by `make bench` (bench/run.py) with DATABASE_URL; the backend is driven in process. Baselines, measured in
the same run on the same table: a plain (non-concurrent) CREATE INDEX of the same HNSW index, for the
rebuild the reconciler makes when m/efConstruct change (built CONCURRENTLY beside the old one, then the old
one dropped: slower, but searches and writes go on); and the Tenant reconciler's catalog observe, for the
VectorIndex observe + count of an idle pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
from dataclasses import replace

import asyncpg

from neuroedge_operator.builders import pgvector as ddl
from neuroedge_operator.clients import pgvector, postgres
from neuroedge_operator.plan import vectorindex as plan

TENANT, ROWS, DIMENSION = "bench-vec", 10_000, 64


def emit(name: str, value: float, unit: str, baseline_name: str, baseline_value: float) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 4),
                "unit": unit,
                "baseline_name": baseline_name,
                "baseline_value": round(baseline_value, 4),
            }
        ),
        flush=True,
    )


async def prepare(conn: asyncpg.Connection, layout: plan.Layout) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS neuroedge.{layout.storage_name}")
    await conn.execute(
        "INSERT INTO neuroedge.tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING", layout.tenant
    )
    await conn.execute(
        "DO $$ BEGIN CREATE ROLE ne_tenant_bench_vec NOLOGIN; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )


async def fill(conn: asyncpg.Connection, table: str) -> None:
    rng = random.Random(7)
    vectors = ["[" + ",".join(f"{rng.random():.4f}" for _ in range(DIMENSION)) + "]" for _ in range(ROWS)]
    await conn.execute(
        f"INSERT INTO neuroedge.{table} (tenant_id, id, embedding) "
        "SELECT $1, 'p' || i, v::vector FROM unnest($2::text[]) WITH ORDINALITY AS u(v, i)",
        TENANT,
        vectors,
    )


async def main() -> None:
    db = postgres.Database(os.environ["DATABASE_URL"])
    backend = pgvector.PgvectorBackend(db)
    layout = plan.Layout(TENANT, "bench", ddl.storage_name(TENANT, "bench"), "pgvector", DIMENSION, "Cosine")
    pool = await db.pool()
    async with pool.acquire() as conn:
        await prepare(conn, layout)
        await backend.apply(layout, [plan.Action("create_storage")])
        await fill(conn, layout.storage_name)
        # Baseline: the same index built plainly (no CONCURRENTLY), then removed again.
        table = f"neuroedge.{layout.storage_name}"
        started = time.perf_counter()
        await conn.execute(
            f"CREATE INDEX bench_plain ON {table} USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 24, ef_construction = 100)"
        )
        plain = time.perf_counter() - started
        await conn.execute("DROP INDEX neuroedge.bench_plain")
    rebuilt = replace(layout, m=24)
    started = time.perf_counter()
    await backend.apply(rebuilt, [plan.Action("rebuild_hnsw")])
    rebuild = time.perf_counter() - started
    storage = await backend.observe(rebuilt)
    assert storage is not None and storage.hnsw == (24, 100) and storage.hnsw_clean
    assert await backend.count(layout.storage_name) == ROWS
    emit(f"hnsw_rebuild_concurrently_{ROWS}x{DIMENSION}", rebuild, "s", "hnsw_create_index_plain", plain)

    idle, tenant_observe = [], []
    for _ in range(20):
        started = time.perf_counter()
        await backend.observe(rebuilt)
        await backend.count(layout.storage_name)
        idle.append(time.perf_counter() - started)
        started = time.perf_counter()
        await db.observe(TENANT)
        tenant_observe.append(time.perf_counter() - started)
    emit(
        "vectorindex_idle_pass_observe_count",
        statistics.median(idle) * 1000,
        "ms",
        "tenant_database_observe",
        statistics.median(tenant_observe) * 1000,
    )
    async with pool.acquire() as conn:
        await conn.execute(f"DROP TABLE neuroedge.{layout.storage_name}")
    await db.close()


if __name__ == "__main__":
    asyncio.run(main())
