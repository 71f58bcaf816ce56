"""OperatorSettings from the environment."""

from __future__ import annotations

import pytest

from neuroedge_operator import settings

ENV = {
    "NEUROEDGE_DATABASE_URL": "postgresql://admin:pw@10.0.0.5:5433/neuroedge",
    "NEUROEDGE_REDIS_URL": "redis://:pw@r:6380/0",
}


def test_defaults_derive_tenant_endpoints_from_admin_urls() -> None:
    loaded = settings.from_env(ENV)
    assert loaded.tenant_database_host == "10.0.0.5:5433" and loaded.tenant_database_name == "neuroedge"
    assert loaded.tenant_redis_host == "r:6380" and loaded.resync_interval == 60
    assert "pw" not in repr(loaded)


def test_overrides_and_errors() -> None:
    loaded = settings.from_env(
        {**ENV, "NEUROEDGE_RESYNC_INTERVAL": "2.5", "NEUROEDGE_WATCH_NAMESPACES": "a, ,b"}
    )
    assert loaded.resync_interval == 2.5 and loaded.watch_namespaces == ("a", "b")
    with pytest.raises(settings.SettingsError, match="NEUROEDGE_METRICS_PORT"):
        settings.from_env({**ENV, "NEUROEDGE_METRICS_PORT": "x"})
    with pytest.raises(settings.SettingsError, match="must be set"):
        settings.from_env({})


def test_workload_timer_intervals() -> None:
    loaded = settings.from_env(ENV)
    assert (loaded.autoscale_interval, loaded.schedule_interval, loaded.keda_check_interval) == (15, 10, 60)
    loaded = settings.from_env(
        {**ENV, "NEUROEDGE_AUTOSCALE_INTERVAL": "1", "NEUROEDGE_SCHEDULE_INTERVAL": "0.5"}
    )
    assert (loaded.autoscale_interval, loaded.schedule_interval) == (1, 0.5)
    with pytest.raises(settings.SettingsError, match="NEUROEDGE_SCHEDULE_INTERVAL"):
        settings.from_env({**ENV, "NEUROEDGE_SCHEDULE_INTERVAL": "-1"})


def test_runtime_resources_default_from_json_and_bad_json_named() -> None:
    base = {"NEUROEDGE_DATABASE_URL": "postgresql://a@db/x", "NEUROEDGE_REDIS_URL": "redis://r"}
    assert settings.from_env(base).runtime_resources is None
    loaded = settings.from_env(
        {**base, "NEUROEDGE_RUNTIME_RESOURCES": '{"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}}'}
    )
    assert loaded.runtime_resources is not None
    assert loaded.runtime_resources.as_dict() == {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}}
    for bad in ("{not json", '{"requests": {"gpu": "1"}}', '["cpu"]'):
        with pytest.raises(settings.SettingsError, match="NEUROEDGE_RUNTIME_RESOURCES"):
            settings.from_env({**base, "NEUROEDGE_RUNTIME_RESOURCES": bad})
