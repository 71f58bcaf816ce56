"""Pure builders of the leader-election Lease bodies: acquire, renew and release.

Updates carry the observed `resourceVersion`, so two candidates racing for the same expired Lease cannot
both win: the API server accepts the first update and refuses the second with 409 Conflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from neuroedge_operator.resources import lease as lease_model


def _micro(when: datetime) -> str:
    """The MicroTime format of Lease times (RFC 3339 with microseconds, UTC)."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _body(namespace: str, spec: dict[str, Any], resource_version: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": lease_model.NAME, "namespace": namespace}
    if resource_version:
        meta["resourceVersion"] = resource_version
    return {"apiVersion": lease_model.API_VERSION, "kind": lease_model.KIND, "metadata": meta, "spec": spec}


def acquire(
    namespace: str, identity: str, now: datetime, duration: int, previous: lease_model.Lease | None
) -> dict[str, Any]:
    """A Lease held by `identity` from `now` (a create when `previous` is None, else a conditional update
    that counts one more transition when the holder changes)."""
    transitions = 0 if previous is None else previous.transitions + (previous.holder != identity)
    spec = {
        "holderIdentity": identity,
        "leaseDurationSeconds": duration,
        "acquireTime": _micro(now),
        "renewTime": _micro(now),
        "leaseTransitions": transitions,
    }
    return _body(namespace, spec, previous.resource_version if previous else "")


def renew(held: lease_model.Lease, now: datetime, duration: int) -> dict[str, Any]:
    """The same holder, with a fresh renewTime."""
    spec: dict[str, Any] = {
        "holderIdentity": held.holder,
        "leaseDurationSeconds": duration,
        "renewTime": _micro(now),
        "leaseTransitions": held.transitions,
    }
    if held.acquire_time is not None:
        spec["acquireTime"] = _micro(held.acquire_time)
    return _body(held.namespace, spec, held.resource_version)


def release(held: lease_model.Lease, now: datetime) -> dict[str, Any]:
    """No holder and a one-second duration (as client-go releases): a standby takes over at once instead of
    waiting for the lease to expire."""
    spec = {
        "leaseDurationSeconds": 1,
        "acquireTime": _micro(now),
        "renewTime": _micro(now),
        "leaseTransitions": held.transitions,
    }
    return _body(held.namespace, spec, held.resource_version)
