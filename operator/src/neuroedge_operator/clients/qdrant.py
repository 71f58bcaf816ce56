"""Qdrant: the collections of VectorIndexes, through qdrant-client's async client.

Any client works: a server (`AsyncQdrantClient(url=..., api_key=...)` from the settings) or the in-process
local mode the tests use. Client errors become `BackendError`/`BackendUnreachableError` with the server's
message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
from qdrant_client import AsyncQdrantClient
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from neuroedge_operator import metrics
from neuroedge_operator.clients import fence
from neuroedge_operator.clients import qdrant_codec as qdrant_builder
from neuroedge_operator.clients.vector_backend import BackendError, BackendUnreachableError
from neuroedge_operator.plan import vectorindex as plan

T = TypeVar("T")
UNREACHABLE = (ResponseHandlingException, httpx.TransportError, OSError)


async def _call(what: str, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except UNREACHABLE as exc:
        raise BackendUnreachableError(f"Qdrant is unreachable ({what}): {exc}") from None
    except UnexpectedResponse as exc:
        raise BackendError(f"Qdrant refused {what}: {exc.status_code} {exc.content[:300]!r}") from None
    except ValueError as exc:  # local mode's way of saying 4xx
        raise BackendError(f"Qdrant refused {what}: {exc}") from None


class QdrantBackend:
    """VectorIndexes as Qdrant collections."""

    def __init__(self, client: AsyncQdrantClient) -> None:
        self._client = client

    @classmethod
    def connect(cls, url: str, api_key: str) -> QdrantBackend:
        """A client of the Qdrant server at `url` (connections are made on first use)."""
        return cls(AsyncQdrantClient(url=url, api_key=api_key or None, timeout=30))

    async def close(self) -> None:
        await self._client.close()

    async def observe(self, layout: plan.Layout) -> plan.Storage | None:
        name = layout.storage_name
        if not await _call("collection_exists", lambda: self._client.collection_exists(name)):
            return None
        info = await _call("get_collection", lambda: self._client.get_collection(name))
        return qdrant_builder.storage(info)

    async def apply(self, layout: plan.Layout, actions: Sequence[plan.Action]) -> None:
        for action in actions:
            fence.FENCE.check(f"qdrant {action.kind}")
            await _call(action.kind, lambda a=action: self._apply(layout, a))  # type: ignore[misc]
            metrics.VECTOR_ACTIONS.labels("qdrant", action.kind).inc()

    async def _apply(self, layout: plan.Layout, action: plan.Action) -> None:
        name = layout.storage_name
        if action.kind == "create_storage":
            await self._client.create_collection(**qdrant_builder.collection_params(layout))
            await self._client.create_payload_index(
                name, qdrant_builder.TENANT_KEY, field_schema=qdrant_builder.tenant_index(), wait=True
            )
            for index in sorted(layout.payload_indexes):
                await self._create_payload_index(name, index)
        elif action.kind == "rebuild_hnsw":
            await self._client.update_collection(name, hnsw_config=qdrant_builder.hnsw_diff(layout))
        elif action.kind == "set_on_disk":
            await self._client.update_collection(name, vectors_config=qdrant_builder.on_disk_diff(layout))
        elif action.kind == "create_payload_index" and action.index is not None:
            await self._create_payload_index(name, action.index)
        elif action.kind == "drop_payload_index" and action.index is not None:
            key = qdrant_builder.payload_key(action.index.field)
            await self._client.delete_payload_index(name, key, wait=True)
        # secure_access: access to a collection is the platform's API key; nothing per collection.

    async def _create_payload_index(self, name: str, index: plan.PayloadIndex) -> Any:
        return await self._client.create_payload_index(
            name,
            qdrant_builder.payload_key(index.field),
            field_schema=qdrant_builder.SCHEMA_TYPES[index.type],
            wait=True,
        )

    async def count(self, storage_name: str) -> int:
        result = await _call("count", lambda: self._client.count(storage_name, exact=True))
        return int(result.count)

    async def drop(self, storage_name: str) -> bool:
        if not await _call("collection_exists", lambda: self._client.collection_exists(storage_name)):
            return False
        fence.FENCE.check("qdrant drop")
        await _call("delete_collection", lambda: self._client.delete_collection(storage_name))
        metrics.VECTOR_ACTIONS.labels("qdrant", "drop_storage").inc()
        return True
