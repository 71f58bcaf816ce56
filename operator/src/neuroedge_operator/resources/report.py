"""What one reconcile pass publishes about an object, for every kind: the conditions it wants, the other
status fields it owns, and Events that announce something other than a condition transition.

A value, decided by the pure parts of a kind (plan, builders) and written by the one publisher
(`reconcile/status.py`), so that every kind follows the same rules for when status and Events are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from neuroedge_operator.resources import conditions


@dataclass(frozen=True)
class Notice:
    """An Event that is not a condition transition (a table recreated behind our back, a job enqueued)."""

    type: conditions.Severity
    reason: str
    message: str


@dataclass(frozen=True)
class Report:
    """The outcome to publish: conditions (merged into status.conditions), status fields besides conditions
    and observedGeneration (written as given), and notices (one Event each, after the status)."""

    conditions: Sequence[conditions.Condition]
    fields: Mapping[str, Any] = field(default_factory=dict)
    notices: Sequence[Notice] = ()

    @property
    def ready(self) -> bool:
        """Whether every Ready condition of the outcome is True (the reconcile metric's outcome label)."""
        return all(c.ok for c in self.conditions if c.type == conditions.READY)

    def report(self, status: Mapping[str, Any], now: datetime) -> Report:
        """A Report is its own report, whatever the current status (see `reconcile/status.Reported`)."""
        return self
