"""pgvector backend: upsert and search on the index's table under RLS (on a tenant transaction).

Statements are built from the registry's storage name (quoted) and parameters only: payload field names and
values never become SQL text. Filters and their parameters come from the pure `filter_sql`.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import orjson

from neuroedge_runtime.vectors import models, scoring
from neuroedge_runtime.vectors.registry import IndexInfo


def table(info: IndexInfo) -> str:
    """The quoted, schema-qualified table of an index."""
    return 'neuroedge."' + info.storage_name.replace('"', '""') + '"'


def vector_literal(vector: list[float]) -> str:
    """pgvector's text form of a vector (cast with ::vector): a JSON array of numbers, which orjson writes
    with the shortest exact form of each float, as `repr` does, without a Python call per component."""
    return orjson.dumps(vector).decode()


def filter_sql(conditions: dict[str, models.Condition], first_param: int) -> tuple[list[str], list[Any]]:
    """SQL predicates (ANDed) for a metadata filter and their parameters, numbered from `first_param`."""
    clauses: list[str] = []
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${first_param + len(params) - 1}"

    for field, condition in conditions.items():
        if isinstance(condition, models.Range):
            number = (
                f"(CASE WHEN jsonb_typeof(payload -> {param(field)}) = 'number' "
                f"THEN (payload ->> {param(field)})::float8 END)"
            )
            for op, bound in (
                ("<", condition.lt),
                ("<=", condition.lte),
                (">", condition.gt),
                (">=", condition.gte),
            ):
                if bound is not None:
                    clauses.append(f"{number} {op} {param(float(bound))}")
        elif isinstance(condition, models.AnyOf):
            values = [json.dumps(v) for v in condition.values]
            clauses.append(f"(payload -> {param(field)}) = ANY({param(values)}::jsonb[])")
        else:
            clauses.append(f"payload @> {param(json.dumps({field: condition}))}::jsonb")
    return clauses, params


async def upsert(conn: asyncpg.Connection, info: IndexInfo, points: list[models.Record]) -> int:
    """Insert or replace `points` (by id) in the tenant's rows of the index."""
    await conn.execute(
        f"INSERT INTO {table(info)} (tenant_id, id, embedding, payload) "  # noqa: S608
        "SELECT $1, u.id, u.embedding::vector, u.payload "
        "FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS u(id, embedding, payload) "
        "ON CONFLICT (tenant_id, id) DO UPDATE "
        "SET embedding = EXCLUDED.embedding, payload = EXCLUDED.payload",
        info.tenant,
        [p.id for p in points],
        [vector_literal(p.vector) for p in points],
        [json.dumps(p.payload) for p in points],
    )
    return len(points)


DEFAULT_EF_SEARCH = 40
"""pgvector's default `hnsw.ef_search`: an HNSW scan yields at most this many rows unless it iterates."""
_NO_PARAMS = models.SearchParams()


def search_settings(request: models.SearchRequest) -> list[tuple[str, str]]:
    """The transaction-local settings a search needs, none for the common one (no filter, `top_k` within the
    candidate list, default params), which then costs a single statement.

    - `hnsw.ef_search` from `params.hnsw_ef`;
    - `hnsw.iterative_scan` (pgvector >= 0.8) when a filter may discard candidates or `top_k` exceeds the
      candidate list: the scan then goes on until it has `top_k` rows instead of stopping at `ef_search`;
    - `enable_indexscan` off for `params.exact`: the planner then scans the tenant's rows and sorts them
      by distance, which is exact."""
    params = request.params or _NO_PARAMS
    settings: list[tuple[str, str]] = []
    if params.hnsw_ef is not None:
        settings.append(("hnsw.ef_search", str(params.hnsw_ef)))
    if request.filter or request.top_k > (params.hnsw_ef or DEFAULT_EF_SEARCH):
        settings.append(("hnsw.iterative_scan", "relaxed_order"))
    if params.exact:
        settings.append(("enable_indexscan", "off"))
    return settings


def set_config_sql(count: int) -> str:
    """One statement setting `count` (name, value) pairs for this transaction only: $1, $2 the first pair."""
    calls = ", ".join(f"set_config(${2 * i + 1}, ${2 * i + 2}, true)" for i in range(count))
    return f"SELECT {calls}"


async def search(
    conn: asyncpg.Connection, info: IndexInfo, request: models.SearchRequest, vector: list[float]
) -> list[models.Hit]:
    """The `top_k` nearest points matching the filter, best first, with scores per `scoring`."""
    op = scoring.PG_OPERATOR[info.distance]
    clauses, params = filter_sql(request.filter, 4)
    where = " AND ".join(["tenant_id = $2", *clauses])
    settings = search_settings(request)
    if settings:
        await conn.execute(set_config_sql(len(settings)), *(part for pair in settings for part in pair))
    rows = await conn.fetch(
        f"SELECT id, payload, embedding {op} $1::vector AS d FROM {table(info)} WHERE {where} "  # noqa: S608
        "ORDER BY d LIMIT $3",
        vector_literal(vector),
        info.tenant,
        request.top_k,
        *params,
    )
    hits = [
        models.Hit(
            id=r["id"], score=scoring.from_pgvector(info.distance, r["d"]), payload=json.loads(r["payload"])
        )
        for r in rows
    ]
    hits.sort(
        key=lambda h: h.score, reverse=True
    )  # relaxed_order may return neighbours slightly out of order
    return [h for h in hits if scoring.keep(h.score, request.score_threshold)]


async def delete_ids(conn: asyncpg.Connection, info: IndexInfo, ids: list[str]) -> int:
    """Delete the tenant's points with these ids; how many existed."""
    status = await conn.execute(
        f"DELETE FROM {table(info)} WHERE tenant_id = $1 AND id = ANY($2::text[])",  # noqa: S608
        info.tenant,
        ids,
    )
    return int(status.split()[-1])


async def delete_matching(
    conn: asyncpg.Connection, info: IndexInfo, conditions: dict[str, models.Condition]
) -> int:
    """Delete the tenant's points matching a metadata filter; how many."""
    clauses, params = filter_sql(conditions, 2)
    where = " AND ".join(["tenant_id = $1", *clauses])
    status = await conn.execute(f"DELETE FROM {table(info)} WHERE {where}", info.tenant, *params)  # noqa: S608
    return int(status.split()[-1])


async def fetch(
    conn: asyncpg.Connection, info: IndexInfo, ids: list[str], with_vectors: bool
) -> list[models.FetchedPoint]:
    """The tenant's points with these ids (those that exist), in no particular order."""
    vector = ", embedding::text AS v" if with_vectors else ""
    rows = await conn.fetch(
        f"SELECT id, payload{vector} FROM {table(info)} "  # noqa: S608
        "WHERE tenant_id = $1 AND id = ANY($2::text[])",
        info.tenant,
        ids,
    )
    return [
        models.FetchedPoint(
            id=r["id"], payload=json.loads(r["payload"]), vector=json.loads(r["v"]) if with_vectors else None
        )
        for r in rows
    ]


async def count(conn: asyncpg.Connection, info: IndexInfo) -> int:
    """How many points the tenant has in the index."""
    value = await conn.fetchval(f"SELECT count(*) FROM {table(info)} WHERE tenant_id = $1", info.tenant)  # noqa: S608
    return int(value)


async def delete_stale(
    conn: asyncpg.Connection, info: IndexInfo, documents: list[str], keep: list[str]
) -> int:
    """Delete the chunks of `documents` (payload `document`) whose ids are not in `keep`; how many."""
    status = await conn.execute(
        f"DELETE FROM {table(info)} WHERE tenant_id = $1 AND payload ->> 'document' = ANY($2::text[]) "  # noqa: S608
        "AND NOT (id = ANY($3::text[]))",
        info.tenant,
        documents,
        keep,
    )
    return int(status.split()[-1])
