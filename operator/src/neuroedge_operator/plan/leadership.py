"""Pure leader-election decisions: from the observed Lease and the local clock, what this replica does next.

Expiry is judged, as client-go does, on the local monotonic clock from the moment this replica first saw the
current version of the Lease, never by comparing the holder's renewTime with our wall clock: replicas' clocks
may disagree, their rates may not. The leader's own validity ends `renew_deadline` after the start of its last
successful renewal, which is shorter than the lease duration, so it stops writing before anyone else may
take over.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from neuroedge_operator.resources import lease as lease_model


@dataclass(frozen=True)
class Timing:
    """The three periods of the election, in seconds."""

    lease_duration: float
    """How long a Lease stays valid after its last renewal, as standbys judge it."""
    renew_deadline: float
    """How long the leader keeps leading without a successful renewal (shorter than the lease duration)."""
    retry_period: float
    """The interval of renewals (leader) and of acquisition attempts (standby)."""


class Action(enum.Enum):
    """What to do with the Lease now."""

    CREATE = "create"
    """No Lease exists: create one held by us."""
    ACQUIRE = "acquire"
    """The Lease is free or expired: take it over (a conditional update)."""
    RENEW = "renew"
    """We hold it: refresh renewTime."""
    STANDBY = "standby"
    """Someone else holds a live Lease: wait."""


def decide(observed: lease_model.Lease | None, identity: str, observed_at: float, now: float) -> Action:
    """The next action, given the Lease as last observed (None: it does not exist), the monotonic time at
    which that version was first observed, and the monotonic time now."""
    if observed is None:
        return Action.CREATE
    if observed.holder == identity:
        return Action.RENEW
    if not observed.holder or expired(observed, observed_at, now):
        return Action.ACQUIRE
    return Action.STANDBY


def expired(observed: lease_model.Lease, observed_at: float, now: float) -> bool:
    """Whether the holder has had its whole lease duration since we saw this version, without renewing."""
    return now >= expires_at(observed, observed_at)


def expires_at(observed: lease_model.Lease, observed_at: float) -> float:
    """The monotonic time at which this version of the Lease expires for us."""
    return observed_at + observed.duration_seconds


def valid_until(renew_started: float, timing: Timing) -> float:
    """Until when a leader whose renewal started at `renew_started` (and succeeded) may keep writing."""
    return renew_started + timing.renew_deadline


def same_version(a: lease_model.Lease | None, b: lease_model.Lease | None) -> bool:
    """Whether two observations are the same version of the Lease (the expiry clock restarts otherwise)."""
    if a is None or b is None:
        return a is b
    return (a.holder, a.renew_time, a.resource_version) == (b.holder, b.renew_time, b.resource_version)


def validate(timing: Timing) -> str | None:
    """Why the periods cannot work together, or None: a leader must stop before its Lease can expire for
    others, and must get more than one renewal attempt before its deadline."""
    if min(timing.lease_duration, timing.renew_deadline, timing.retry_period) <= 0:
        return "lease duration, renew deadline and retry period must be positive"
    if timing.renew_deadline >= timing.lease_duration:
        return "the renew deadline must be shorter than the lease duration"
    if timing.retry_period * 2 > timing.renew_deadline:
        return "the retry period must be at most half the renew deadline"
    return None
