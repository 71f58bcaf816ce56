"""WorkerSettings from the environment: defaults, overrides, and errors that name the variable."""

from __future__ import annotations

import pytest

from neuroedge_runtime.queue import settings

BASE = {"REDIS_URL": "redis://127.0.0.1:1/0", "NEUROEDGE_TENANT": "acme", "NEUROEDGE_POOL": "gpu"}


def test_defaults() -> None:
    config = settings.from_env(BASE)
    assert (config.tenant, config.pool, config.concurrency, config.max_deliveries) == ("acme", "gpu", 16, 5)
    assert config.consumer  # hostname-pid
    assert config.queue_keys.stream == "ne:acme:{acme.gpu}:stream"
    assert config.retry_policy.max_attempts == 5
    assert not config.test_engines and config.metrics_port == 0


def test_overrides_and_the_secrets_tenant_key() -> None:
    env = {
        **BASE,
        "NEUROEDGE_CONCURRENCY": "64",
        "NEUROEDGE_CLAIM_IDLE_SECONDS": "2.5",
        "NEUROEDGE_CONSUMER": "c",
    }
    del env["NEUROEDGE_TENANT"]
    env["TENANT"] = "beta"
    config = settings.from_env(env)
    assert (config.tenant, config.concurrency, config.claim_idle, config.consumer) == ("beta", 64, 2.5, "c")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"REDIS_URL": ""}, "REDIS_URL is not set"),
        ({"NEUROEDGE_POOL": ""}, "NEUROEDGE_POOL is not set"),
        ({"NEUROEDGE_CONCURRENCY": "many"}, "NEUROEDGE_CONCURRENCY='many' is not a valid int"),
        ({"NEUROEDGE_CONCURRENCY": "0"}, "concurrency must be at least 1"),
        ({"NEUROEDGE_JOB_TIMEOUT_SECONDS": "-1"}, "job_timeout must be positive"),
        ({"NEUROEDGE_POOL": "Bad_Pool"}, "pool 'Bad_Pool'"),
    ],
)
def test_bad_environments_are_refused_by_name(change: dict[str, str], message: str) -> None:
    with pytest.raises(settings.SettingsError, match=message):
        settings.from_env({**BASE, **change})


def test_tenant_is_required() -> None:
    env = {k: v for k, v in BASE.items() if k != "NEUROEDGE_TENANT"}
    with pytest.raises(settings.SettingsError, match="NEUROEDGE_TENANT"):
        settings.from_env(env)
