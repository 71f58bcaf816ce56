"""What a VectorIndex pass found and did, and the status it publishes from that: conditions, storage name,
the point count when it is news, and a Warning when registered storage had to be recreated empty.

Kept out of the handler so that what `kubectl get vi` shows is decided and tested in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neuroedge_operator.builders import jwt_keys
from neuroedge_operator.plan import vectorindex as plan
from neuroedge_operator.resources import conditions, report

STORAGE_RECREATED = "StorageRecreated"


@dataclass(frozen=True)
class Outcome:
    """What a reconcile found and did: the conditions to publish and the status facts."""

    conditions: Sequence[conditions.Condition]
    storage_name: str | None = None
    point_count: int | None = None
    recreated: bool = False
    actions: tuple[plan.Action, ...] = ()

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.conditions if c.type == conditions.READY)

    def report(self, status: Mapping[str, Any], now: datetime) -> report.Report:
        """What to publish over `status`, the object's current one (see `fields`)."""
        notices = (recreated_notice(self.storage_name or ""),) if self.recreated else ()
        return report.Report(self.conditions, fields(self, status, now), notices)


def fields(outcome: Outcome, status: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Status fields besides the conditions: the storage name once known, and the point count with the time
    it was measured only when it differs from the published one (an idle operator writes nothing)."""
    found: dict[str, Any] = {}
    if outcome.storage_name:
        found["storageName"] = outcome.storage_name
    count = outcome.point_count
    if count is not None and plan.count_changed(
        status.get("pointCount"), count, bool(status.get("lastCountTime"))
    ):
        found["pointCount"] = count
        found["lastCountTime"] = jwt_keys.timestamp(now)
    return found


def recreated_notice(storage_name: str) -> report.Notice:
    """The Warning that registered storage was found missing and recreated empty: data was lost."""
    message = (
        f"{storage_name} was registered but no longer existed (deleted outside the operator): "
        "recreated empty; its vectors must be ingested again"
    )
    return report.Notice("Warning", STORAGE_RECREATED, message)
