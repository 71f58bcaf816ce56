"""Conditions: merge keeps transition times, summary explains the first failure, transitions become Events."""

from __future__ import annotations

from neuroedge_operator.resources import conditions


def test_merge_keeps_transition_time_while_status_is_unchanged() -> None:
    first = conditions.merge([], [conditions.database_ready()], "t1", 1)
    again = conditions.merge(first, [conditions.database_ready()], "t2", 1)
    assert again == first and first[0]["lastTransitionTime"] == "t1"
    down = conditions.merge(first, [conditions.database_unreachable("refused")], "t3", 2)
    assert down[0]["lastTransitionTime"] == "t3" and down[0]["reason"] == "DatabaseUnreachable"
    assert down[0]["observedGeneration"] == 2


def test_merge_orders_ready_first_and_keeps_other_types() -> None:
    merged = conditions.merge(
        [{"type": "Custom", "status": "True"}],
        [conditions.cache_ready(), conditions.summary([conditions.cache_ready()])],
        "t",
        1,
    )
    assert [c["type"] for c in merged] == ["Ready", "CacheReady", "Custom"]


def test_summary() -> None:
    assert conditions.summary([conditions.database_ready(), conditions.cache_ready()]).ok
    ready = conditions.summary(
        [conditions.database_ready(), conditions.database_unreachable("connection refused")]
    )
    assert not ready.ok and ready.reason == "DatabaseUnreachable" and "connection refused" in ready.message


def test_invalid_spec_sets_every_condition_false() -> None:
    conds = conditions.invalid_spec("spec.quota.cpu: bad")
    assert {c.type for c in conds} == {"Ready", *conditions.TENANT_PARTS}
    assert all(c.reason == "InvalidSpec" and not c.ok for c in conds)


def test_transitions() -> None:
    current = conditions.merge([], [conditions.database_ready()], "t", 1)
    assert conditions.transitions(current, [conditions.database_ready()]) == []
    changed = conditions.transitions(
        current, [conditions.database_unreachable("x"), conditions.cache_ready()]
    )
    assert [c.type for c in changed] == ["DatabaseReady", "CacheReady"]
