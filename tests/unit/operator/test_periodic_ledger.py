"""What is due in the periodic loop (plan/periodic.py): the semantics of the kopf timers it replaced (first
pass `initial_delay` after an object is first seen, then `interval` after the previous pass ended), never two
passes of one object at once, and nothing kept for objects that are gone."""

from __future__ import annotations

import pytest

from neuroedge_operator.plan import periodic


def test_a_new_object_is_first_due_after_the_initial_delay() -> None:
    ledger = periodic.Ledger(interval=60, initial_delay=60)
    assert ledger.due(["acme"], now=100.0) == []
    assert ledger.due(["acme"], now=159.9) == []
    assert ledger.due(["acme"], now=160.0) == ["acme"]


def test_without_an_initial_delay_a_new_object_is_due_at_once() -> None:
    ledger = periodic.Ledger(interval=15)
    assert ledger.due(["ns/pool"], now=5.0) == ["ns/pool"]


def test_the_next_pass_is_due_one_interval_after_the_previous_one_ended() -> None:
    ledger = periodic.Ledger(interval=10)
    assert ledger.due(["a"], now=0.0) == ["a"]
    ledger.started("a")
    ledger.finished("a", now=3.0)  # the pass took 3 s
    assert ledger.due(["a"], now=12.9) == []
    assert ledger.due(["a"], now=13.0) == ["a"]


def test_a_running_pass_is_never_started_twice() -> None:
    ledger = periodic.Ledger(interval=1)
    assert ledger.due(["a"], now=0.0) == ["a"]
    ledger.started("a")
    assert ledger.due(["a"], now=50.0) == []  # long overdue, but its pass has not ended
    assert ledger.next_due() is None
    ledger.finished("a", now=50.0)
    assert ledger.due(["a"], now=51.0) == ["a"]


def test_a_failed_pass_is_retried_one_interval_later() -> None:
    # The loop calls finished() whether the step returned or raised: as a kopf timer, retried next interval.
    ledger = periodic.Ledger(interval=30)
    ledger.due(["a"], now=0.0)
    ledger.started("a")
    ledger.finished("a", now=1.0)
    assert ledger.due(["a"], now=30.0) == []
    assert ledger.due(["a"], now=31.0) == ["a"]


def test_objects_that_are_gone_are_forgotten_and_start_afresh_when_back() -> None:
    ledger = periodic.Ledger(interval=10, initial_delay=10)
    ledger.due(["a", "b"], now=0.0)
    assert len(ledger) == 2
    assert ledger.due(["b"], now=10.0) == ["b"]
    assert len(ledger) == 1
    # "a" is back (deleted and created again, or selected again): a new first delay from now.
    assert ledger.due(["a", "b"], now=11.0) == ["b"]
    assert ledger.due(["a"], now=21.0) == ["a"]


def test_a_pass_that_ends_after_its_object_went_leaves_nothing_behind() -> None:
    ledger = periodic.Ledger(interval=10)
    ledger.due(["a"], now=0.0)
    ledger.started("a")
    ledger.due([], now=1.0)
    ledger.finished("a", now=2.0)
    assert len(ledger) == 0
    assert ledger.next_due() is None


def test_the_longest_overdue_come_first() -> None:
    ledger = periodic.Ledger(interval=10)
    ledger.due(["a", "b", "c"], now=0.0)
    for key, ended in (("a", 5.0), ("b", 1.0), ("c", 3.0)):
        ledger.started(key)
        ledger.finished(key, now=ended)
    assert ledger.due(["a", "b", "c"], now=20.0) == ["b", "c", "a"]
    assert ledger.next_due() == 11.0


def test_the_loop_sleeps_until_the_earliest_due_time_but_never_past_a_tick() -> None:
    assert periodic.pause([None, 105.0, 103.5], now=103.0, longest=1.0) == 0.5
    assert periodic.pause([None, 200.0], now=103.0, longest=1.0) == 1.0
    assert periodic.pause([99.0], now=103.0, longest=1.0) == 0.0
    assert periodic.pause([None, None], now=103.0, longest=1.0) == 1.0


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        periodic.Ledger(interval=0)
