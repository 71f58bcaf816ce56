"""The status an Engine or WorkerPool handler writes, assembled from pure results: the evaluated conditions,
the schedules recorded, the queue figures read, the last scaling time.

Kept out of the handlers so that what a user sees in `kubectl get eng,wp` is decided and tested in one place.
The conditions themselves are returned separately (`WorkloadStatus.conditions`): the operator's conditions
helpers merge them into status.conditions, keeping transition times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.builders import workerpool as pool_builder
from neuroedge_operator.plan import workload_status
from neuroedge_operator.resources import conditions
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model

QUEUE_UNAVAILABLE = "QueueUnavailable"
ENGINE_FIELDS = ("observedGeneration", "replicas", "readyReplicas", "endpoint")
"""What the Engine's reconcile writes; lastSchedules belongs to the schedules pass (two writers, disjoint
fields)."""
POOL_FIELDS = ("observedGeneration", "replicas", "readyReplicas", "selector", "queue")
"""What the WorkerPool's reconcile writes; lastScaleTime belongs to the autoscaler."""


@dataclass(frozen=True)
class QueueObservation:
    """What the handler read from Redis about the pool's queue: figures, or why it could not."""

    figures: pool_model.QueueFigures | None
    group_exists: bool
    error: str | None = None


def queue_blockers(observation: QueueObservation) -> list[workload_status.Blocker]:
    """A pool is Ready only when its consumer group exists (the CRD's promise), so a pool whose Redis is
    unreachable or whose group is missing says so."""
    if observation.error is not None:
        return [
            workload_status.Blocker(
                QUEUE_UNAVAILABLE, f"the pool's queue cannot be read: {observation.error}"
            )
        ]
    if not observation.group_exists:
        return [workload_status.Blocker(QUEUE_UNAVAILABLE, "the consumer group 'pool' does not exist yet")]
    return []


def engine_status(
    engine: engine_model.Engine,
    evaluated: workload_status.WorkloadStatus,
    last_schedules: Sequence[engine_model.LastSchedule],
) -> engine_model.EngineStatus:
    """status of an Engine (conditions as they are; the conditions helpers merge the new ones)."""
    return engine_model.EngineStatus(
        observed_generation=engine.meta.generation,
        replicas=evaluated.replicas,
        ready_replicas=evaluated.ready_replicas,
        endpoint=engine_builder.endpoint(engine),
        last_schedules=tuple(last_schedules),
        conditions=engine.status.conditions,
    )


def pool_status(
    pool: pool_model.WorkerPool,
    evaluated: workload_status.WorkloadStatus,
    queue: QueueObservation,
    last_scale_time: datetime | None,
) -> pool_model.WorkerPoolStatus:
    """status of a WorkerPool; queue figures that could not be read keep their last known values."""
    return pool_model.WorkerPoolStatus(
        observed_generation=pool.meta.generation,
        replicas=evaluated.replicas,
        ready_replicas=evaluated.ready_replicas,
        selector=pool_builder.status_selector(pool),
        queue=queue.figures if queue.figures is not None else pool.status.queue,
        last_scale_time=last_scale_time or pool.status.last_scale_time,
        conditions=pool.status.conditions,
    )


def engine_fields(engine: engine_model.Engine, evaluated: workload_status.WorkloadStatus) -> dict[str, Any]:
    """The status fields the Engine's reconcile owns (`ENGINE_FIELDS`), as the API wants them."""
    body = engine_status(engine, evaluated, engine.status.last_schedules).body()
    return {k: body[k] for k in ENGINE_FIELDS if k in body}


def pool_fields(
    pool: pool_model.WorkerPool, evaluated: workload_status.WorkloadStatus, queue: QueueObservation
) -> dict[str, Any]:
    """The status fields the WorkerPool's reconcile owns (`POOL_FIELDS`), as the API wants them."""
    body = pool_status(pool, evaluated, queue, None).body()
    return {k: body[k] for k in POOL_FIELDS if k in body}


def autoscaling(pool: pool_model.WorkerPool, keda_installed: bool) -> conditions.Condition:
    """The Autoscaling condition: off, KEDA, or the operator's own autoscaler (also when KEDA was asked for
    but its CRDs are not installed)."""
    scaling = pool.spec.autoscaling
    if not scaling.enabled:
        return conditions.autoscaling_off()
    if pool_builder.uses_keda(pool, keda_installed):
        return conditions.autoscaled_by_keda()
    if scaling.keda:
        return conditions.keda_not_installed(scaling.target_lag_per_replica)
    return conditions.autoscaled_by_operator(scaling.target_lag_per_replica)
