"""Binding a kind's reconcile to kopf and to the periodic loop, the same way for every kind.

create, update and resume run the kind's one idempotent reconcile through kopf; the periodic resync (the
drift repair and the retry loop) runs the same reconcile from the operator's one periodic loop
(reconcile/periodic.py), not from a kopf timer per object. A kind that needs a finalizer also gets its
removal run on deletion. Extra periodic steps (schedules, autoscaling) run on their own interval, only for
objects that ask for it. Handler ids are fixed names, so kopf's records stay the same whatever the functions
are called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from neuroedge_operator import tracing
from neuroedge_operator.reconcile import periodic
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.settings import OperatorSettings

Step = Callable[[Context, Mapping[str, Any]], Awaitable[object]]
Resource = tuple[str, str, str]
"""kopf's (group, version, plural)."""
Jobs = list[periodic.Job]
"""The periodic jobs the handlers declare; the periodic loop runs them."""


def _handler(step: Step, action: str) -> Callable[..., Awaitable[None]]:
    async def handler(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        with tracing.step_span(action, body):
            await step(memo.context, body)

    return handler


def bind(
    registry: kopf.OperatorRegistry,
    jobs: Jobs,
    resource: Resource,
    kind: str,
    *,
    settings: OperatorSettings,
    reconcile: Step,
    remove: Step | None = None,
) -> None:
    """Run `reconcile` on create, update, resume and every resync interval; `remove` behind the finalizer.

    The first resync comes one interval after the object is first seen, as the kopf timer's initial delay
    did: the create or resume handler has just reconciled it."""
    change = _handler(reconcile, "reconcile")
    for decorator in (kopf.on.create, kopf.on.update, kopf.on.resume):
        decorator(*resource, registry=registry, id="on_change")(change)
    interval = settings.resync_interval
    jobs.append(periodic.Job(_api_version(resource), kind, "reconcile", reconcile, interval, interval))
    if remove is not None:
        kopf.on.delete(*resource, registry=registry, id="on_delete")(_handler(remove, "remove"))


def every(
    jobs: Jobs,
    resource: Resource,
    kind: str,
    step: Step,
    *,
    interval: float,
    when: periodic.Filter,
    name: str,
) -> None:
    """Run `step` every `interval` seconds for the objects `when` selects (the first pass as soon as an
    object is selected)."""
    jobs.append(periodic.Job(_api_version(resource), kind, name, step, interval, when=when))


def _api_version(resource: Resource) -> str:
    group, version, _plural = resource
    return f"{group}/{version}" if group else version
