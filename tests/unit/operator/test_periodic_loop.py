"""The periodic loop over a real watch cache (objects stored as a watch would): which objects get a pass, at
most `concurrency` at once, none for an object being deleted or outside the watched namespaces, and a step
that raises is retried an interval later. The clock is the test's; the steps record what they were given."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from neuroedge_operator import settings as settings_module
from neuroedge_operator.clients import informer, kube, postgres
from neuroedge_operator.clients import redis as redis_client
from neuroedge_operator.reconcile import periodic
from neuroedge_operator.reconcile.context import Context

API_VERSION = "neuroedge.io/v1alpha1"


def settings(watch_namespaces: str = "") -> settings_module.OperatorSettings:
    return settings_module.from_env(
        {
            "NEUROEDGE_DATABASE_URL": "postgresql://a:b@h/neuroedge",
            "NEUROEDGE_REDIS_URL": "redis://h",
            "NEUROEDGE_WATCH_NAMESPACES": watch_namespaces,
        }
    )


def pool(namespace: str, name: str, *, deleting: bool = False, autoscaled: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkerPool",
        "metadata": meta,
        "spec": {"autoscaling": {"enabled": autoscaled}},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def context(objects: list[dict[str, Any]], watch_namespaces: str = "") -> Context:
    """A context whose only collaborator in use is a synced watch cache of WorkerPools holding `objects`
    (the loop touches no client: the steps here are the test's)."""
    cache = informer.Cache(
        cast(kube.Kube, None), [informer.Spec(API_VERSION, "WorkerPool", serves_reads=False)]
    )
    store = cache._informers[API_VERSION, "WorkerPool"]
    for obj in objects:
        store._store(obj)
    store.synced.set()
    return Context(
        settings=settings(watch_namespaces),
        kube=cast(kube.Kube, None),
        db=cast(postgres.Database, None),
        cache=cast(redis_client.Cache, None),
        watch_cache=cache,
    )


class Recorder:
    """A step that records the objects it ran on and can be held open or made to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[str] = []
        self.fail = fail
        self.gate = asyncio.Event()
        self.gate.set()
        self.inside = 0
        self.most_inside = 0

    async def __call__(self, _ctx: Context, body: Mapping[str, Any]) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            await self.gate.wait()
            self.seen.append(f"{body['metadata']['namespace']}/{body['metadata']['name']}")
            if self.fail:
                raise RuntimeError("the step failed")
        finally:
            self.inside -= 1


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def job(step: Recorder, interval: float = 60, initial_delay: float = 0, **kw: Any) -> periodic.Job:
    return periodic.Job(API_VERSION, "WorkerPool", "reconcile", step, interval, initial_delay, **kw)


async def test_the_first_pass_comes_after_the_initial_delay_then_one_per_interval() -> None:
    clock, step = Clock(), Recorder()
    loop = periodic.Loop(context([pool("a", "p")]), [job(step, 60, 60)], clock=clock)
    assert loop.sweep() == 1.0  # nothing due within a tick
    await settle()
    assert step.seen == []
    clock.now += 60
    loop.sweep()
    await settle()
    assert step.seen == ["a/p"]
    clock.now += 59
    loop.sweep()
    await settle()
    assert step.seen == ["a/p"]
    clock.now += 1
    loop.sweep()
    await settle()
    assert step.seen == ["a/p", "a/p"]


async def test_no_more_than_the_concurrency_limit_run_at_once_and_the_rest_follow() -> None:
    step = Recorder()
    step.gate.clear()
    pools = [pool("a", f"p{n}") for n in range(10)]
    loop = periodic.Loop(context(pools), [job(step)], concurrency=3, clock=Clock())
    loop.sweep()
    await settle()
    assert step.inside == 3
    step.gate.set()
    await settle()
    assert sorted(step.seen) == sorted(f"a/p{n}" for n in range(10))  # the queue drained without a sweep
    assert step.most_inside == 3


async def test_objects_being_deleted_outside_the_watched_namespaces_or_not_selected_get_no_pass() -> None:
    step = Recorder()
    objects = [
        pool("team-a", "kept", autoscaled=True),
        pool("team-a", "plain"),
        pool("team-a", "going", deleting=True, autoscaled=True),
        pool("elsewhere", "other", autoscaled=True),
    ]
    autoscaled = job(step, when=lambda body: bool(body["spec"]["autoscaling"]["enabled"]))
    loop = periodic.Loop(context(objects, watch_namespaces="team-a"), [autoscaled], clock=Clock())
    loop.sweep()
    await settle()
    assert step.seen == ["team-a/kept"]


async def test_a_failing_step_is_retried_one_interval_later_and_the_loop_goes_on() -> None:
    clock, failing, fine = Clock(), Recorder(fail=True), Recorder()
    jobs = [job(failing, 30), periodic.Job(API_VERSION, "WorkerPool", "autoscale", fine, 30)]
    loop = periodic.Loop(context([pool("a", "p")]), jobs, clock=clock)
    loop.sweep()
    await settle()
    assert failing.seen == ["a/p"] and fine.seen == ["a/p"]
    clock.now += 29
    loop.sweep()
    await settle()
    assert failing.seen == ["a/p"]
    clock.now += 1
    loop.sweep()
    await settle()
    assert failing.seen == ["a/p", "a/p"] and fine.seen == ["a/p", "a/p"]


async def test_a_kind_whose_cache_is_out_of_sync_waits_without_spinning() -> None:
    clock, step = Clock(), Recorder()
    ctx = context([pool("a", "p")])
    loop = periodic.Loop(ctx, [job(step, 10)], clock=clock)
    loop.sweep()
    await settle()
    assert ctx.watch_cache is not None
    ctx.watch_cache._informers[API_VERSION, "WorkerPool"].synced.clear()
    clock.now += 100  # long overdue, but the cache cannot say what exists
    assert loop.sweep() == 1.0  # a tick, not 0: no busy loop
    await settle()
    assert step.seen == ["a/p"]


async def test_stopping_the_loop_cancels_the_passes_in_flight() -> None:
    step = Recorder()
    step.gate.clear()
    loop = periodic.Loop(context([pool("a", "p")]), [job(step)], clock=Clock())
    task = asyncio.create_task(loop.run())
    await settle()
    assert step.inside == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert step.inside == 0 and step.seen == []
