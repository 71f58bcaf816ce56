"""Binding a kind's reconcile to kopf, the same way for every kind.

create, update, resume and a periodic resync timer all run the kind's one idempotent reconcile (the timer is
the drift repair and the retry loop); a kind that needs a finalizer also gets its removal run on deletion.
Extra timers (schedules, autoscaling) run their own step on their own interval, only for objects that ask for
it. Handler ids are fixed names, so kopf's records stay the same whatever the functions are called.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import kopf

from neuroedge_operator import tracing
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.settings import OperatorSettings

Step = Callable[[Context, Mapping[str, Any]], Awaitable[object]]
Resource = tuple[str, str, str]
Filter = Callable[..., bool]


def _handler(step: Step, action: str) -> Callable[..., Awaitable[None]]:
    async def handler(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        with tracing.step_span(action, body):
            await step(memo.context, body)

    return handler


def bind(
    registry: kopf.OperatorRegistry,
    resource: Resource,
    settings: OperatorSettings,
    reconcile: Step,
    remove: Step | None = None,
) -> None:
    """Run `reconcile` on create, update, resume and every resync interval; `remove` behind the finalizer."""
    change = _handler(reconcile, "reconcile")
    for decorator in (kopf.on.create, kopf.on.update, kopf.on.resume):
        decorator(*resource, registry=registry, id="on_change")(change)
    kopf.timer(
        *resource,
        interval=settings.resync_interval,
        initial_delay=settings.resync_interval,
        registry=registry,
        id="on_timer",
    )(_handler(reconcile, "reconcile"))
    if remove is not None:
        kopf.on.delete(*resource, registry=registry, id="on_delete")(_handler(remove, "remove"))


def every(
    registry: kopf.OperatorRegistry,
    resource: Resource,
    step: Step,
    *,
    interval: float,
    when: Filter,
    name: str,
) -> None:
    """Run `step` every `interval` seconds for the objects `when` selects."""
    kopf.timer(*resource, interval=interval, when=when, registry=registry, id=name)(
        _handler(step, name.removeprefix("on_"))
    )
