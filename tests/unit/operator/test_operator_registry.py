"""The operator's kopf wiring: which handlers exist, and kopf settings that keep watches alive and quiet."""

from __future__ import annotations

import kopf

from neuroedge_operator import run
from neuroedge_operator import settings as settings_module

SETTINGS = settings_module.from_env(
    {
        "NEUROEDGE_DATABASE_URL": "postgresql://a:b@h/neuroedge",
        "NEUROEDGE_REDIS_URL": "redis://h",
        "NEUROEDGE_RESYNC_INTERVAL": "7",
        "NEUROEDGE_AUTOSCALE_INTERVAL": "3",
        "NEUROEDGE_SCHEDULE_INTERVAL": "5",
    }
)


def test_tenant_handlers_and_timer_interval_are_registered() -> None:
    registry = run.build_registry(SETTINGS)
    resource = kopf.Resource("neuroedge.io", "v1alpha1", "tenants")
    changing = [h for h in registry._changing.get_all_handlers() if h.selector and h.selector.check(resource)]
    reasons = {h.reason.value for h in changing if h.reason is not None}
    assert reasons == {"create", "update", "delete"}
    assert any(h.initial for h in changing)  # on.resume: every Tenant is reconciled at start-up
    timers = [t for t in registry._spawning.get_all_handlers() if t.selector and t.selector.check(resource)]
    assert [t.interval for t in timers] == [7.0]


def test_vectorindex_handlers_and_timer_are_registered() -> None:
    registry = run.build_registry(SETTINGS)
    resource = kopf.Resource("neuroedge.io", "v1alpha1", "vectorindexes")
    changing = [h for h in registry._changing.get_all_handlers() if h.selector and h.selector.check(resource)]
    assert {h.reason.value for h in changing if h.reason is not None} == {"create", "update", "delete"}
    assert any(h.initial for h in changing)
    timers = [t for t in registry._spawning.get_all_handlers() if t.selector and t.selector.check(resource)]
    assert [t.interval for t in timers] == [7.0]  # the point count and drift repair


def _handlers(plural: str) -> tuple[set[str], list[float]]:
    registry = run.build_registry(SETTINGS)
    resource = kopf.Resource("neuroedge.io", "v1alpha1", plural)
    changing = [h for h in registry._changing.get_all_handlers() if h.selector and h.selector.check(resource)]
    assert any(h.initial for h in changing)  # on.resume: every object is reconciled at start-up
    timers = [t for t in registry._spawning.get_all_handlers() if t.selector and t.selector.check(resource)]
    return {h.reason.value for h in changing if h.reason is not None}, sorted(t.interval or 0 for t in timers)


def test_engine_handlers_resync_and_schedule_timers_are_registered() -> None:
    reasons, intervals = _handlers("engines")
    assert reasons == {"create", "update", "delete"}  # delete: the registry row goes behind the finalizer
    assert intervals == [5.0, 7.0]


def test_workerpool_handlers_resync_and_autoscale_timers_are_registered() -> None:
    reasons, intervals = _handlers("workerpools")
    assert reasons == {"create", "update"}  # no finalizer: children go by garbage collection
    assert intervals == [3.0, 7.0]


def test_kopf_settings_time_out_watches_and_post_no_automatic_events() -> None:
    config = run.kopf_settings(SETTINGS)
    assert config.watching.server_timeout == SETTINGS.watch_server_timeout
    assert (
        config.watching.client_timeout is not None
        and config.watching.client_timeout > config.watching.server_timeout
    )
    assert config.posting.enabled is False
    assert config.persistence.finalizer == "neuroedge.io/finalizer"


def test_generated_deployments_are_watched_for_prompt_status() -> None:
    registry = run.build_registry(SETTINGS)
    resource = kopf.Resource("apps", "v1", "deployments")
    watching = [h for h in registry._watching.get_all_handlers() if h.selector and h.selector.check(resource)]
    assert len(watching) == 1 and watching[0].labels == {"app.kubernetes.io/name": "neuroedge-runtime"}
