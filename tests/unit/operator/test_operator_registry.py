"""The operator's kopf wiring: which handlers exist, which periodic jobs the loop runs (no kopf timers: they
cost a task and a kept body per object), and kopf settings that keep watches alive and quiet."""

from __future__ import annotations

import kopf

from neuroedge_operator import run
from neuroedge_operator import settings as settings_module
from neuroedge_operator.reconcile import periodic

SETTINGS = settings_module.from_env(
    {
        "NEUROEDGE_DATABASE_URL": "postgresql://a:b@h/neuroedge",
        "NEUROEDGE_REDIS_URL": "redis://h",
        "NEUROEDGE_RESYNC_INTERVAL": "7",
        "NEUROEDGE_AUTOSCALE_INTERVAL": "3",
        "NEUROEDGE_SCHEDULE_INTERVAL": "5",
    }
)


def _handlers(plural: str, kind: str) -> tuple[set[str], list[tuple[str, float, float]]]:
    """The kind's kopf change reasons, and its periodic jobs as (name, interval, initial delay)."""
    jobs: list[periodic.Job] = []
    registry = run.build_registry(SETTINGS, jobs)
    resource = kopf.Resource("neuroedge.io", "v1alpha1", plural)
    changing = [h for h in registry._changing.get_all_handlers() if h.selector and h.selector.check(resource)]
    assert any(h.initial for h in changing)  # on.resume: every object is reconciled at start-up
    timers = [t for t in registry._spawning.get_all_handlers() if t.selector and t.selector.check(resource)]
    assert timers == []  # no kopf timer or daemon: kopf would keep a task and the full body per object
    periodic_jobs = sorted((j.name, j.interval, j.initial_delay) for j in jobs if j.kind == kind)
    assert all(j.api_version == "neuroedge.io/v1alpha1" for j in jobs)
    return {h.reason.value for h in changing if h.reason is not None}, periodic_jobs


def test_tenant_handlers_and_resync_are_registered() -> None:
    reasons, jobs = _handlers("tenants", "Tenant")
    assert reasons == {"create", "update", "delete"}
    assert jobs == [("reconcile", 7.0, 7.0)]  # the first resync one interval after the resume pass


def test_vectorindex_handlers_and_resync_are_registered() -> None:
    reasons, jobs = _handlers("vectorindexes", "VectorIndex")
    assert reasons == {"create", "update", "delete"}
    assert jobs == [("reconcile", 7.0, 7.0)]  # the point count and drift repair


def test_engine_handlers_resync_and_schedule_check_are_registered() -> None:
    reasons, jobs = _handlers("engines", "Engine")
    assert reasons == {"create", "update", "delete"}  # delete: the registry row goes behind the finalizer
    assert jobs == [("reconcile", 7.0, 7.0), ("schedule", 5.0, 0.0)]


def test_workerpool_handlers_resync_and_autoscaler_are_registered() -> None:
    reasons, jobs = _handlers("workerpools", "WorkerPool")
    assert reasons == {"create", "update"}  # no finalizer: children go by garbage collection
    assert jobs == [("autoscale", 3.0, 0.0), ("reconcile", 7.0, 7.0)]


def test_extra_periodic_steps_select_only_the_objects_that_ask_for_them() -> None:
    jobs: list[periodic.Job] = []
    run.build_registry(SETTINGS, jobs)
    by_name = {j.name: j for j in jobs}
    assert by_name["schedule"].when({"spec": {"schedules": [{"cron": "* * * * *"}]}})
    assert not by_name["schedule"].when({"spec": {}})
    assert by_name["autoscale"].when({"spec": {"autoscaling": {"enabled": True}}})
    assert not by_name["autoscale"].when({"spec": {"autoscaling": {"enabled": False}}})
    assert not by_name["autoscale"].when({})
    assert all(j.when({"spec": {}}) for j in jobs if j.name == "reconcile")


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
    registry = run.build_registry(SETTINGS, [])
    resource = kopf.Resource("apps", "v1", "deployments")
    watching = [h for h in registry._watching.get_all_handlers() if h.selector and h.selector.check(resource)]
    assert len(watching) == 1 and watching[0].labels == {"app.kubernetes.io/name": "neuroedge-runtime"}
