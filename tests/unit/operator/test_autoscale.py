"""The autoscaler's decision, table-driven: scale up at once, down by at most `step` per cooldown, within
min..max, on lag plus pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
import workload_samples as samples

from neuroedge_operator.plan import autoscale
from neuroedge_operator.resources import workerpool as pool_model

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=1)


class Case(NamedTuple):
    current: int
    lag: int
    pending: int
    last_scale: datetime | None
    expected: int
    reason: str
    minimum: int = 1
    maximum: int = 10
    target: int = 100
    cooldown: float = 60
    step: int = 1


CASES = {
    "zero backlog at min stays": Case(1, 0, 0, None, 1, autoscale.STEADY),
    "zero backlog steps down by one": Case(5, 0, 0, LONG_AGO, 4, autoscale.SCALE_DOWN),
    "zero backlog with min 0 reaches 0": Case(1, 0, 0, LONG_AGO, 0, autoscale.SCALE_DOWN, minimum=0),
    "zero backlog at 0 with min 0 stays": Case(0, 0, 0, None, 0, autoscale.STEADY, minimum=0),
    "one job wakes a pool scaled to zero": Case(0, 1, 0, NOW, 1, autoscale.SCALE_UP, minimum=0),
    "pending alone counts": Case(0, 0, 1, None, 1, autoscale.SCALE_UP, minimum=0),
    "exact multiple of the target": Case(1, 300, 0, None, 3, autoscale.SCALE_UP),
    "one over a multiple rounds up": Case(1, 301, 0, None, 4, autoscale.SCALE_UP),
    "lag and pending add up": Case(1, 150, 151, None, 4, autoscale.SCALE_UP),
    "scale up ignores the cooldown": Case(2, 900, 0, NOW, 9, autoscale.SCALE_UP),
    "scale up jumps straight to the need": Case(1, 1000, 0, NOW, 10, autoscale.SCALE_UP),
    "huge backlog is clamped to max": Case(3, 10**12, 10**9, NOW, 10, autoscale.SCALE_UP),
    "at max with huge backlog stays": Case(10, 10**12, 0, NOW, 10, autoscale.STEADY),
    "backlog matching current stays": Case(3, 250, 0, NOW, 3, autoscale.STEADY),
    "scale down waits in the cooldown": Case(5, 0, 0, NOW - timedelta(seconds=59), 5, autoscale.COOLDOWN),
    "cooldown just ended (boundary)": Case(5, 0, 0, NOW - timedelta(seconds=60), 4, autoscale.SCALE_DOWN),
    "cooldown counted to the microsecond": Case(
        5, 0, 0, NOW - timedelta(seconds=59, microseconds=999_999), 5, autoscale.COOLDOWN
    ),
    "never scaled: no cooldown": Case(5, 0, 0, None, 4, autoscale.SCALE_DOWN),
    "zero cooldown steps every time": Case(5, 0, 0, NOW, 4, autoscale.SCALE_DOWN, cooldown=0),
    "step bounds the scale down": Case(9, 100, 0, LONG_AGO, 6, autoscale.SCALE_DOWN, step=3),
    "step never overshoots the need": Case(9, 700, 0, LONG_AGO, 7, autoscale.SCALE_DOWN, step=5),
    "step never goes below min": Case(4, 0, 0, LONG_AGO, 2, autoscale.SCALE_DOWN, minimum=2, step=10),
    "below min after min was raised": Case(1, 0, 0, NOW, 3, autoscale.BELOW_MINIMUM, minimum=3),
    "above max after max was lowered": Case(12, 5000, 0, NOW, 10, autoscale.ABOVE_MAXIMUM),
    "above max goes down at once despite cooldown": Case(8, 0, 0, NOW, 4, autoscale.ABOVE_MAXIMUM, maximum=4),
    "min equals max pins the size": Case(4, 10**6, 0, None, 4, autoscale.STEADY, minimum=4, maximum=4),
    "min = max = 0 stays at 0": Case(0, 10**6, 0, None, 0, autoscale.STEADY, minimum=0, maximum=0),
    "target of one job per replica": Case(1, 7, 0, None, 7, autoscale.SCALE_UP, target=1),
    "last scale in the future (clock skew) holds": Case(
        5, 0, 0, NOW + timedelta(seconds=5), 5, autoscale.COOLDOWN
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_decide(case: Case) -> None:
    decision = autoscale.decide(
        case.current,
        min_replicas=case.minimum,
        max_replicas=case.maximum,
        lag=case.lag,
        pending=case.pending,
        target_lag_per_replica=case.target,
        now=NOW,
        last_scale_time=case.last_scale,
        cooldown=case.cooldown,
        step=case.step,
    )
    assert (decision.replicas, decision.reason) == (case.expected, case.reason)
    assert decision.changes(case.current) == (case.expected != case.current)
    assert decision.message


def test_messages_explain_the_backlog() -> None:
    decision = autoscale.decide(
        1,
        min_replicas=1,
        max_replicas=10,
        lag=250,
        pending=50,
        target_lag_per_replica=100,
        now=NOW,
        last_scale_time=None,
        cooldown=60,
        step=1,
    )
    assert decision.message == "backlog 300 (lag 250, pending 50) wants 3 replica(s): scaling up from 1"


def test_repeated_decisions_walk_down_one_step_per_cooldown() -> None:
    """Replaying the timer: each scale-down restarts the cooldown, so 10 -> 1 takes nine cooldowns."""
    current, last, now, steps = 10, None, NOW, 0
    while current > 1:
        decision = autoscale.decide(
            current,
            min_replicas=1,
            max_replicas=10,
            lag=0,
            pending=0,
            target_lag_per_replica=100,
            now=now,
            last_scale_time=last,
            cooldown=60,
            step=1,
        )
        if decision.changes(current):
            current, last, steps = decision.replicas, now, steps + 1
        now += timedelta(seconds=15)
    assert steps == 9 and now - NOW >= timedelta(seconds=8 * 60)


@pytest.mark.parametrize(
    "bad",
    [
        {"min_replicas": 5, "max_replicas": 2},
        {"min_replicas": -1},
        {"target_lag_per_replica": 0},
        {"step": 0},
        {"cooldown": -1},
        {"lag": -1},
        {"pending": -5},
    ],
)
def test_bad_parameters_are_refused(bad: dict[str, int]) -> None:
    args = {
        "min_replicas": 1,
        "max_replicas": 10,
        "lag": 0,
        "pending": 0,
        "target_lag_per_replica": 100,
        "cooldown": 60,
        "step": 1,
    }
    args.update(bad)
    with pytest.raises(ValueError):
        autoscale.decide(3, now=NOW, last_scale_time=None, **args)


def test_negative_current_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        autoscale.decide(
            -1,
            min_replicas=0,
            max_replicas=1,
            lag=0,
            pending=0,
            target_lag_per_replica=1,
            now=NOW,
            last_scale_time=None,
            cooldown=0,
            step=1,
        )


def _pool(**spec: object) -> pool_model.WorkerPool:
    body = samples.pool_body(**spec)
    body["status"] = {"lastScaleTime": "2026-11-21T11:59:30Z"}
    return pool_model.parse(body)


def test_for_pool_reads_the_spec_and_the_last_scale_time() -> None:
    pool = _pool(
        autoscaling={"enabled": True, "targetLagPerReplica": 10, "cooldownSeconds": 60, "scaleDownStep": 2}
    )
    up = autoscale.for_pool(pool, 2, lag=55, pending=0, now=NOW, keda_installed=False)
    assert up is not None and (up.replicas, up.reason) == (6, autoscale.SCALE_UP)
    held = autoscale.for_pool(pool, 6, lag=0, pending=0, now=NOW, keda_installed=False)
    assert held is not None and held.reason == autoscale.COOLDOWN  # 30 s since lastScaleTime
    later = autoscale.for_pool(
        pool, 6, lag=0, pending=0, now=NOW + timedelta(seconds=30), keda_installed=False
    )
    assert later is not None and (later.replicas, later.reason) == (4, autoscale.SCALE_DOWN)


@pytest.mark.parametrize(
    ("spec", "keda_installed"),
    [
        ({"autoscaling": {"enabled": False}}, False),
        ({"suspend": True}, False),
        ({"autoscaling": {"enabled": True, "keda": True}}, True),
    ],
)
def test_for_pool_leaves_alone_pools_it_does_not_scale(spec: dict[str, object], keda_installed: bool) -> None:
    assert (
        autoscale.for_pool(_pool(**spec), 2, lag=10**6, pending=0, now=NOW, keda_installed=keda_installed)
        is None
    )


def test_keda_requested_but_not_installed_falls_back_to_the_operator() -> None:
    pool = _pool(autoscaling={"enabled": True, "keda": True})
    decision = autoscale.for_pool(pool, 2, lag=10**6, pending=0, now=NOW, keda_installed=False)
    assert decision is not None and decision.replicas == 10
