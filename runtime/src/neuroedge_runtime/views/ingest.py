"""Ingestion endpoints: `POST /vector/ingest` (202, jobs of the runtime's pool) and
`GET /vector/ingest/{ingestion_id}` (progress), for the caller's tenant only."""

from __future__ import annotations

from aiohttp import web

from neuroedge_queue import keys as queue_keys
from neuroedge_runtime import bodies, keys
from neuroedge_runtime.vectors import ingestion

INGESTION_ID_PATTERN = queue_keys.JOB_ID.pattern


async def ingest(request: web.Request) -> web.Response:
    """Accept documents for a text-embedded index; 202 with the ingestion's id, location and totals."""
    body = await bodies.parse_json(request, ingestion.IngestRequest)
    accepted = await request.app[keys.INGEST].accept(request[keys.PRINCIPAL].tenant, body)
    location = f"/vector/ingest/{accepted.id}"
    return bodies.json_response(accepted, status=202, headers={"Location": location})


async def get_ingestion(request: web.Request) -> web.Response:
    """An ingestion's progress."""
    found = await request.app[keys.INGEST].get(
        request[keys.PRINCIPAL].tenant, request.match_info["ingestion_id"]
    )
    return bodies.json_response(found)
