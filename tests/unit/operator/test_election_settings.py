"""Leader-election settings: identity from the downward API, periods checked together."""

from __future__ import annotations

import pytest

from neuroedge_operator import settings

BASE = {"NEUROEDGE_DATABASE_URL": "postgresql://u:p@db/x", "NEUROEDGE_REDIS_URL": "redis://r:6379"}


def test_defaults_are_15_10_2_with_election_on() -> None:
    loaded = settings.from_env({**BASE, "POD_NAME": "op-0", "POD_NAMESPACE": "neuroedge-system"})
    assert loaded.leader_election
    assert (loaded.identity, loaded.lease_namespace) == ("op-0", "neuroedge-system")
    assert settings.timing(loaded) == settings.leadership.Timing(15, 10, 2)


def test_without_pod_name_the_identity_is_unique_per_process() -> None:
    loaded = settings.from_env(BASE)
    assert loaded.identity.rsplit("_", 1)[1].isdigit()
    assert loaded.lease_namespace == "default"


def test_short_periods_for_tests() -> None:
    env = {
        **BASE,
        "NEUROEDGE_LEASE_DURATION": "3",
        "NEUROEDGE_LEASE_RENEW_DEADLINE": "2",
        "NEUROEDGE_LEASE_RETRY_PERIOD": "0.5",
    }
    assert settings.timing(settings.from_env(env)) == settings.leadership.Timing(3, 2, 0.5)


def test_a_renew_deadline_not_shorter_than_the_lease_is_refused() -> None:
    with pytest.raises(settings.SettingsError, match="shorter than the lease duration"):
        settings.from_env({**BASE, "NEUROEDGE_LEASE_RENEW_DEADLINE": "20"})


def test_a_malformed_election_flag_is_named() -> None:
    with pytest.raises(settings.SettingsError, match="NEUROEDGE_LEADER_ELECTION='maybe'"):
        settings.from_env({**BASE, "NEUROEDGE_LEADER_ELECTION": "maybe"})
    assert not settings.from_env({**BASE, "NEUROEDGE_LEADER_ELECTION": "false"}).leader_election
