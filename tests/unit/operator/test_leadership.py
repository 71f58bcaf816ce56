"""The pure leader-election decisions and Lease bodies: who acquires, renews or waits, judged on the local
monotonic clock from when a Lease version was first seen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from neuroedge_operator.builders import lease as lease_builder
from neuroedge_operator.plan import leadership
from neuroedge_operator.resources import lease as lease_model

TIMING = leadership.Timing(lease_duration=15, renew_deadline=10, retry_period=2)
NOW = datetime(2026, 11, 30, 1, 0, 0, 123456, tzinfo=UTC)


def held(holder: str, rv: str = "7", duration: int = 15, transitions: int = 3) -> lease_model.Lease:
    return lease_model.Lease("ops", holder, duration, transitions, rv, NOW, NOW)


def test_a_missing_lease_is_created() -> None:
    assert leadership.decide(None, "a", observed_at=0, now=0) is leadership.Action.CREATE


def test_the_holder_renews_its_own_lease() -> None:
    assert leadership.decide(held("a"), "a", observed_at=0, now=100) is leadership.Action.RENEW


def test_a_live_lease_of_another_replica_means_standby() -> None:
    assert leadership.decide(held("b"), "a", observed_at=100, now=114.9) is leadership.Action.STANDBY


def test_a_lease_unrenewed_for_its_duration_since_first_seen_is_acquired() -> None:
    assert leadership.decide(held("b"), "a", observed_at=100, now=115) is leadership.Action.ACQUIRE


def test_expiry_follows_the_holders_declared_duration() -> None:
    assert leadership.decide(held("b", duration=30), "a", observed_at=0, now=20) is leadership.Action.STANDBY


def test_a_released_lease_is_acquired_at_once() -> None:
    assert leadership.decide(held(""), "a", observed_at=100, now=100) is leadership.Action.ACQUIRE


def test_a_renewal_is_a_new_version_that_restarts_the_expiry_clock() -> None:
    first, renewed = held("b", rv="7"), held("b", rv="8")
    assert leadership.same_version(first, held("b", rv="7"))
    assert not leadership.same_version(first, renewed)
    assert not leadership.same_version(None, first)
    assert leadership.same_version(None, None)


def test_the_leader_stops_writing_before_anyone_may_take_over() -> None:
    until = leadership.valid_until(renew_started=50, timing=TIMING)
    assert until == 60
    # A standby that saw the renewal (after it started) cannot acquire before 50 + 15.
    assert until < leadership.expires_at(held("a"), observed_at=50)


@pytest.mark.parametrize(
    ("timing", "problem"),
    [
        (leadership.Timing(15, 15, 2), "shorter than the lease duration"),
        (leadership.Timing(15, 10, 6), "at most half the renew deadline"),
        (leadership.Timing(15, 10, 0), "must be positive"),
    ],
)
def test_periods_that_cannot_work_together_are_refused(timing: leadership.Timing, problem: str) -> None:
    assert problem in (leadership.validate(timing) or "")


def test_the_default_periods_are_valid() -> None:
    assert leadership.validate(TIMING) is None


def test_acquiring_from_another_holder_counts_a_transition_and_is_conditional() -> None:
    body = lease_builder.acquire("ops", "a", NOW, 15, held("b", rv="42", transitions=3))
    assert body["metadata"] == {"name": "neuroedge-operator", "namespace": "ops", "resourceVersion": "42"}
    assert body["spec"]["holderIdentity"] == "a"
    assert body["spec"]["leaseTransitions"] == 4
    assert body["spec"]["renewTime"] == "2026-11-30T01:00:00.123456Z"


def test_creating_starts_with_no_transition_and_no_resource_version() -> None:
    body = lease_builder.acquire("ops", "a", NOW, 15, None)
    assert "resourceVersion" not in body["metadata"]
    assert body["spec"]["leaseTransitions"] == 0


def test_a_renewal_keeps_holder_acquire_time_and_transitions() -> None:
    later = datetime(2026, 11, 30, 1, 0, 2, tzinfo=UTC)
    body = lease_builder.renew(held("a", rv="9"), later, 15)
    assert body["spec"]["holderIdentity"] == "a"
    assert body["spec"]["acquireTime"] == "2026-11-30T01:00:00.123456Z"
    assert body["spec"]["renewTime"] == "2026-11-30T01:00:02.000000Z"
    assert body["metadata"]["resourceVersion"] == "9"


def test_a_release_clears_the_holder_and_shortens_the_lease() -> None:
    body = lease_builder.release(held("a", rv="9"), NOW)
    assert "holderIdentity" not in body["spec"]
    assert body["spec"]["leaseDurationSeconds"] == 1
    released = lease_model.parse({"metadata": {"resourceVersion": "10"}, **body})
    assert leadership.decide(released, "b", observed_at=0, now=0) is leadership.Action.ACQUIRE


def test_a_lease_body_is_parsed_with_its_times() -> None:
    lease = lease_model.parse(
        {
            "metadata": {"namespace": "ops", "resourceVersion": "5"},
            "spec": {
                "holderIdentity": "a",
                "leaseDurationSeconds": 15,
                "renewTime": "2026-11-30T01:00:00.5Z",
            },
        }
    )
    assert (lease.holder, lease.duration_seconds, lease.transitions) == ("a", 15, 0)
    assert lease.renew_time == datetime(2026, 11, 30, 1, 0, 0, 500000, tzinfo=UTC)
    assert lease_model.parse({"metadata": {}}).holder == ""
