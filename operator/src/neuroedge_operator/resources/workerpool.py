"""The WorkerPool resource as typed models, parsed from the raw body kopf hands us (crds/workerpool.yaml).

Defaults follow the CRD: an unset minReplicas means 0 (scale to zero when idle) and an unset maxReplicas means
100, so that a pool behaves the same whether the API server or this model filled the gap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pydantic

from neuroedge_operator.resources import workload

KIND = "WorkerPool"
PLURAL = "workerpools"
POOL_LABEL = "neuroedge.io/workerpool"
MIN_REPLICAS_DEFAULT = 0
MAX_REPLICAS_DEFAULT = 100


class RetryBackoff(workload.Model):
    """Exponential backoff between attempts of a failed job."""

    initial_seconds: int = pydantic.Field(default=1, ge=1, le=3600, alias="initialSeconds")
    max_seconds: int = pydantic.Field(default=300, ge=1, le=86400, alias="maxSeconds")

    @pydantic.model_validator(mode="after")
    def _order(self) -> RetryBackoff:
        if self.initial_seconds > self.max_seconds:
            raise ValueError("initialSeconds must be less than or equal to maxSeconds")
        return self


class Queue(workload.Model):
    """Delivery and retry behaviour of the pool's job queue."""

    max_deliveries: int = pydantic.Field(default=5, ge=1, le=100, alias="maxDeliveries")
    claim_idle_seconds: int = pydantic.Field(default=30, ge=1, le=86400, alias="claimIdleSeconds")
    retry_backoff: RetryBackoff = pydantic.Field(default_factory=RetryBackoff, alias="retryBackoff")


class Autoscaling(workload.Model):
    """Scaling on the queue's backlog, by the operator (default) or by a KEDA ScaledObject (`keda`)."""

    enabled: bool = False
    target_lag_per_replica: int = pydantic.Field(default=100, ge=1, le=1_000_000, alias="targetLagPerReplica")
    cooldown_seconds: int = pydantic.Field(default=60, ge=0, le=3600, alias="cooldownSeconds")
    scale_down_step: int = pydantic.Field(default=1, ge=1, le=100, alias="scaleDownStep")
    keda: bool = False

    @pydantic.model_validator(mode="after")
    def _keda(self) -> Autoscaling:
        if self.keda and not self.enabled:
            raise ValueError("keda requires enabled")
        return self


class WorkerPoolSpec(workload.Model):
    """`spec` of a WorkerPool."""

    replicas: int | None = pydantic.Field(default=None, ge=0, le=100)
    min_replicas: int = pydantic.Field(default=MIN_REPLICAS_DEFAULT, ge=0, le=100, alias="minReplicas")
    max_replicas: int = pydantic.Field(default=MAX_REPLICAS_DEFAULT, ge=0, le=100, alias="maxReplicas")
    concurrency: int = pydantic.Field(default=8, ge=1, le=1000)
    engines: tuple[str, ...] = ()
    queue: Queue = pydantic.Field(default_factory=Queue)
    autoscaling: Autoscaling = pydantic.Field(default_factory=Autoscaling)
    resources: workload.Resources = pydantic.Field(default_factory=workload.Resources)
    image: str | None = pydantic.Field(default=None, min_length=1, max_length=512)
    suspend: bool = False

    @pydantic.model_validator(mode="after")
    def _bounds(self) -> WorkerPoolSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas ({self.min_replicas}) exceeds maxReplicas ({self.max_replicas})")
        if self.replicas is not None and not self.min_replicas <= self.replicas <= self.max_replicas:
            raise ValueError(
                f"replicas ({self.replicas}) must be within minReplicas..maxReplicas "
                f"({self.min_replicas}..{self.max_replicas})"
            )
        if len(set(self.engines)) != len(self.engines):
            raise ValueError("engines must not repeat a name")
        return self

    @property
    def desired_replicas(self) -> int:
        """spec.replicas as written by the user, `kubectl scale`, KEDA or our autoscaler; 1 when unset
        (the CRD's default), kept within minReplicas..maxReplicas."""
        wanted = 1 if self.replicas is None else self.replicas
        return max(self.min_replicas, min(self.max_replicas, wanted))


class QueueFigures(workload.Model):
    """The pool's queue when the operator last looked: what `kubectl get wp` shows and autoscaling acts on."""

    length: int = pydantic.Field(default=0, ge=0)
    lag: int = pydantic.Field(default=0, ge=0)
    pending: int = pydantic.Field(default=0, ge=0)
    dead_lettered: int = pydantic.Field(default=0, ge=0, alias="deadLettered")


class WorkerPoolStatus(workload.Model):
    """`status` of a WorkerPool, as last written by the operator."""

    observed_generation: int | None = pydantic.Field(default=None, alias="observedGeneration")
    replicas: int = 0
    ready_replicas: int = pydantic.Field(default=0, alias="readyReplicas")
    selector: str | None = None
    queue: QueueFigures | None = None
    last_scale_time: datetime | None = pydantic.Field(default=None, alias="lastScaleTime")
    conditions: tuple[dict[str, Any], ...] = ()

    @pydantic.field_validator("last_scale_time", mode="before")
    @classmethod
    def _time(cls, value: object) -> datetime | None:
        return workload.parse_time(value)

    def body(self) -> dict[str, Any]:
        """The status as the API wants it (camelCase, times as RFC 3339 `Z`, unset fields left out)."""
        data = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        if self.last_scale_time is not None:
            data["lastScaleTime"] = workload.format_time(self.last_scale_time)
        return data


@dataclass(frozen=True)
class WorkerPool(workload.Parsed):
    """A parsed WorkerPool: identity, spec and the status the operator last wrote."""

    spec: WorkerPoolSpec
    status: WorkerPoolStatus


def parse(body: Mapping[str, Any]) -> WorkerPool:
    """A WorkerPool from its raw body; raises InvalidResourceError naming every problem by field path."""
    meta = workload.identity(KIND, body)
    spec = workload.validate(WorkerPoolSpec, body.get("spec"), "spec")
    return WorkerPool(meta=meta, spec=spec, status=workload.readable_status(WorkerPoolStatus, body))
