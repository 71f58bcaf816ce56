"""The WorkerPool autoscaler's decision: replicas from the real backlog, as a pure function.

Why these rules: a backlog hurts now, so scaling up is immediate; removing workers too eagerly makes a bursty
queue flap (and every stopped worker drains its jobs first), so scaling down moves at most `step` replicas per
`cooldown` seconds, counted from the last scaling action of either direction. Lag (entries never delivered)
and pending (delivered, not yet acknowledged) both count: a pending job still occupies a worker.

`current` is the pool's spec.replicas (what /scale reports), so that `kubectl scale` and the autoscaler agree
on one number; the handler writes a changed decision back through /scale and sets status.lastScaleTime.
When KEDA's CRDs are installed and the pool asks for KEDA, KEDA decides instead (see builders/workerpool.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from neuroedge_operator.resources import workerpool as pool_model

SCALE_UP = "ScaleUp"
SCALE_DOWN = "ScaleDown"
COOLDOWN = "CooldownActive"
STEADY = "Steady"
BELOW_MINIMUM = "BelowMinimum"
ABOVE_MAXIMUM = "AboveMaximum"


@dataclass(frozen=True)
class Decision:
    """The replicas to run and why (`reason` is CamelCase for events; `message` is for people)."""

    replicas: int
    reason: str
    message: str

    def changes(self, current: int) -> bool:
        return self.replicas != current


@dataclass(frozen=True)
class Bounds:
    """The pool's scaling parameters (its spec), checked once."""

    minimum: int
    maximum: int
    target_lag_per_replica: int
    cooldown_seconds: float
    step: int

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.maximum:
            raise ValueError(f"need 0 <= min ({self.minimum}) <= max ({self.maximum})")
        if self.target_lag_per_replica < 1 or self.step < 1:
            raise ValueError("target lag per replica and scale-down step must be at least 1")
        if self.cooldown_seconds < 0:
            raise ValueError("cooldown must not be negative")


def wanted(backlog: int, bounds: Bounds) -> int:
    """ceil(backlog / target), clamped to min..max."""
    raw = -(-backlog // bounds.target_lag_per_replica)
    return max(bounds.minimum, min(bounds.maximum, raw))


def decide(
    current: int,
    *,
    min_replicas: int,
    max_replicas: int,
    lag: int,
    pending: int,
    target_lag_per_replica: int,
    now: datetime,
    last_scale_time: datetime | None,
    cooldown: float,
    step: int,
) -> Decision:
    """The replicas for a pool running `current` with `lag` undelivered and `pending` unacknowledged jobs
    (keyword arguments: ten positional numbers would be too easy to swap)."""
    if current < 0 or lag < 0 or pending < 0:
        raise ValueError("current replicas, lag and pending must not be negative")
    bounds = Bounds(min_replicas, max_replicas, target_lag_per_replica, cooldown, step)
    if current < bounds.minimum or current > bounds.maximum:
        return _into_bounds(current, bounds)
    target = wanted(lag + pending, bounds)
    backlog = f"backlog {lag + pending} (lag {lag}, pending {pending}) wants {target} replica(s)"
    if target > current:
        return Decision(target, SCALE_UP, f"{backlog}: scaling up from {current}")
    if target == current:
        return Decision(current, STEADY, backlog)
    if _cooling(now, last_scale_time, bounds.cooldown_seconds):
        return Decision(current, COOLDOWN, f"{backlog}: holding {current} until the cooldown ends")
    replicas = max(target, current - bounds.step)
    return Decision(replicas, SCALE_DOWN, f"{backlog}: scaling down from {current} to {replicas}")


def _into_bounds(current: int, bounds: Bounds) -> Decision:
    """Bounds changed under a running pool: honour them at once, whatever the backlog or the cooldown."""
    if current < bounds.minimum:
        return Decision(bounds.minimum, BELOW_MINIMUM, f"{current} replica(s) is below minReplicas")
    return Decision(bounds.maximum, ABOVE_MAXIMUM, f"{current} replica(s) is above maxReplicas")


def _cooling(now: datetime, last_scale_time: datetime | None, cooldown: float) -> bool:
    """Whether the last scaling action is less than `cooldown` seconds ago (exactly `cooldown` is over)."""
    return last_scale_time is not None and (now - last_scale_time).total_seconds() < cooldown


def for_pool(
    pool: pool_model.WorkerPool, current: int, *, lag: int, pending: int, now: datetime, keda_installed: bool
) -> Decision | None:
    """The decision for `pool` from its spec and status, or None when the operator does not scale it
    (autoscaling off, suspended, or KEDA doing it)."""
    spec, scaling = pool.spec, pool.spec.autoscaling
    if not scaling.enabled or spec.suspend or (scaling.keda and keda_installed):
        return None
    return decide(
        current,
        min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas,
        lag=lag,
        pending=pending,
        target_lag_per_replica=scaling.target_lag_per_replica,
        now=now,
        last_scale_time=pool.status.last_scale_time,
        cooldown=scaling.cooldown_seconds,
        step=scaling.scale_down_step,
    )
