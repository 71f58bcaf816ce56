"""The leader-election Lease over the API: read, create, conditionally update, watch.

Conflicts are answers here, not errors: a 409 on create or update means another replica got there first,
and the caller re-reads and decides again. Lease writes pass the write fence (they are how a replica becomes
the leader in the first place).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from neuroedge_operator.clients import kube
from neuroedge_operator.resources import lease as lease_model


async def get(client: kube.Kube, namespace: str) -> lease_model.Lease | None:
    """The operator's Lease, or None when it does not exist."""
    body = await client.get(lease_model.API_VERSION, lease_model.KIND, lease_model.NAME, namespace)
    return lease_model.parse(body) if body is not None else None


async def create(client: kube.Kube, body: Mapping[str, Any]) -> lease_model.Lease | None:
    """Create the Lease; None when it already exists (someone else created it first)."""
    try:
        return lease_model.parse(await client.create_unfenced(body))
    except kube.ApiError as exc:
        if exc.status == 409:
            return None
        raise


async def update(client: kube.Kube, body: Mapping[str, Any]) -> lease_model.Lease | None:
    """Replace the Lease if it is still at the resourceVersion `body` carries; None on a conflict."""
    try:
        return lease_model.parse(await client.put_unfenced(body))
    except kube.ApiError as exc:
        if exc.status in (404, 409):
            return None
        raise


async def watch(
    client: kube.Kube, namespace: str, server_timeout: int
) -> AsyncIterator[lease_model.Lease | None]:
    """The Lease each time it changes (None when it is deleted), starting with its current state."""
    events = client.watch_named(
        lease_model.API_VERSION, lease_model.KIND, lease_model.NAME, namespace, server_timeout
    )
    async for kind, body in events:
        if kind == "DELETED":
            yield None
        elif kind in ("ADDED", "MODIFIED"):
            yield lease_model.parse(body)
        elif kind == "ERROR":
            raise kube.ApiError(int(body.get("code") or 500), str(body.get("message", "watch error")))
