"""The operator's leader-election Lease (`coordination.k8s.io/v1`), parsed from its raw body at the edge.

Only the fields the election reads are kept; times are parsed into aware datetimes, a missing or empty
holder is "nobody holds it" (what a released Lease says).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

API_VERSION = "coordination.k8s.io/v1"
KIND = "Lease"
NAME = "neuroedge-operator"


@dataclass(frozen=True)
class Lease:
    """What a Lease says about its holder; `resource_version` makes the next update conditional."""

    namespace: str
    holder: str
    duration_seconds: int
    transitions: int
    resource_version: str
    acquire_time: datetime | None = None
    renew_time: datetime | None = None


def parse(body: Mapping[str, Any]) -> Lease:
    """A Lease from the API's JSON (a Lease without a spec is one that nobody holds)."""
    meta, spec = body.get("metadata", {}), body.get("spec") or {}
    return Lease(
        namespace=str(meta.get("namespace", "")),
        holder=str(spec.get("holderIdentity") or ""),
        duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        transitions=int(spec.get("leaseTransitions") or 0),
        resource_version=str(meta.get("resourceVersion", "")),
        acquire_time=_time(spec.get("acquireTime")),
        renew_time=_time(spec.get("renewTime")),
    )


def _time(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))
