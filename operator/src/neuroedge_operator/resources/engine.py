"""The Engine resource as typed models, parsed from the raw body kopf hands us (crds/engine.yaml).

Everything wrong with a spec is found here, before anything is built: a bad cron string or a schedule without
a pool becomes one clear message on the Engine's conditions, never a crash-looping scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pydantic
from croniter import croniter

from neuroedge_operator.resources import workload

KIND = "Engine"
PLURAL = "engines"
ENGINE_LABEL = "neuroedge.io/engine"

CRON_MACROS = frozenset({"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"})
EngineType = Literal["predictive", "agent", "conversation", "analytics", "router"]
ENGINE_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"


class Route(workload.Model):
    """One route of a router Engine: texts like its utterances go to its Engine."""

    name: str = pydantic.Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")
    engine: str = pydantic.Field(min_length=1, max_length=63, pattern=ENGINE_NAME)
    utterances: tuple[str, ...] = pydantic.Field(min_length=1, max_length=200)
    threshold: float = pydantic.Field(default=0.5, ge=0, le=1)


class Schedule(workload.Model):
    """One cron (UTC) that enqueues a job with `input` on the engine's worker pool."""

    name: str = pydantic.Field(min_length=1, max_length=63, pattern=r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
    cron: str = pydantic.Field(min_length=1, max_length=100)
    input: dict[str, Any] = pydantic.Field(default_factory=dict)

    @pydantic.field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if value.startswith("@"):
            if value not in CRON_MACROS:
                raise ValueError(f"{value!r} is not one of {', '.join(sorted(CRON_MACROS))}")
        elif len(fields) != 5:
            raise ValueError(f"{value!r} must have five fields (minute hour day-of-month month day-of-week)")
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression (five fields, or @hourly/@daily/...)")
        return value


MODEL_SCHEMES = ("http", "https", "pvc", "configmap")
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class ModelSource(workload.Model):
    """`spec.model`: where a predictive engine's trained model is, its digest and format."""

    uri: str = pydantic.Field(min_length=1, max_length=2048)
    sha256: str | None = pydantic.Field(default=None, pattern=SHA256_PATTERN)
    format: Literal["onnx"] = "onnx"

    @property
    def scheme(self) -> str:
        """http, https, pvc or configmap."""
        return self.uri.partition("://")[0]

    @property
    def volume(self) -> str:
        """The claim or ConfigMap name of a pvc:// or configmap:// URI."""
        return self.uri.partition("://")[2].partition("/")[0]

    @pydantic.model_validator(mode="after")
    def _checks(self) -> ModelSource:
        rest = self.uri.partition("://")[2]
        if self.scheme not in MODEL_SCHEMES or "://" not in self.uri:
            raise ValueError(f"model uri scheme must be one of {', '.join(MODEL_SCHEMES)}")
        if not rest.partition("/")[0] or not rest.partition("/")[2] or "/../" in f"/{rest}/":
            raise ValueError("model uri must be <scheme>://<host or volume>/<path> without '..' segments")
        if self.scheme in ("http", "https") and self.sha256 is None:
            raise ValueError("a model downloaded over http(s) needs spec.model.sha256")
        return self


class Batching(workload.Model):
    """`spec.batching`: dynamic batching of the model's requests."""

    max_batch_size: int = pydantic.Field(alias="maxBatchSize", ge=1, le=65_536)
    max_delay_milliseconds: int = pydantic.Field(default=5, alias="maxDelayMilliseconds", ge=0, le=10_000)


LLM_TYPES = frozenset({"conversation", "agent"})


class SecretKeyRef(workload.Model):
    """One key of a Secret in the Engine's namespace."""

    name: str = pydantic.Field(min_length=1, max_length=253)
    key: str = pydantic.Field(min_length=1, max_length=253)


class LLMUpstream(workload.Model):
    """An OpenAI-compatible server, the model to ask it for, and where its API key is."""

    base_url: str = pydantic.Field(alias="baseURL", min_length=8, max_length=2048, pattern=r"^https?://\S+$")
    model: str = pydantic.Field(min_length=1, max_length=256)
    api_key_secret_ref: SecretKeyRef | None = pydantic.Field(default=None, alias="apiKeySecretRef")


class LLMSpec(LLMUpstream):
    """`spec.llm`: the upstream behind a conversation or agent Engine, its limits and its fallbacks."""

    timeout_seconds: float = pydantic.Field(default=60.0, gt=0, le=3600, alias="timeoutSeconds")
    max_tokens: int = pydantic.Field(default=512, ge=1, le=1_000_000, alias="maxTokens")
    temperature: float | None = pydantic.Field(default=None, ge=0, le=2)
    fallbacks: tuple[LLMUpstream, ...] = pydantic.Field(default=(), max_length=8)

    def secret_refs(self) -> list[tuple[str, SecretKeyRef]]:
        """(field path, reference) of every API key the upstreams need, primary first."""
        refs = [("spec.llm.apiKeySecretRef", self.api_key_secret_ref)]
        refs += [
            (f"spec.llm.fallbacks[{i}].apiKeySecretRef", f.api_key_secret_ref)
            for i, f in enumerate(self.fallbacks)
        ]
        return [(path, ref) for path, ref in refs if ref is not None]


class EngineSpec(workload.Model):
    """`spec` of an Engine."""

    type: EngineType
    image: str | None = pydantic.Field(default=None, min_length=1, max_length=512)
    replicas: int = pydantic.Field(default=1, ge=0, le=100)
    resources: workload.Resources = pydantic.Field(default_factory=workload.Resources)
    config: dict[str, str] = pydantic.Field(default_factory=dict, max_length=64)
    config_ref: workload.Reference | None = pydantic.Field(default=None, alias="configRef")
    model_ref: workload.Reference | None = pydantic.Field(default=None, alias="modelRef")
    worker_pool_ref: workload.Reference | None = pydantic.Field(default=None, alias="workerPoolRef")
    schedules: tuple[Schedule, ...] = ()
    suspend: bool = False
    model: ModelSource | None = None
    batching: Batching | None = None

    @pydantic.model_validator(mode="after")
    def _model(self) -> EngineSpec:
        if self.model is not None and self.type != "predictive":
            raise ValueError("spec.model is served by predictive engines only")
        if self.batching is not None and self.model is None:
            raise ValueError("spec.batching batches a model's requests and needs spec.model")
        return self

    def registry_model(self) -> dict[str, Any] | None:
        """The model as the registry row carries it (`engines.model`; the runtime's serving spec)."""
        if self.model is None:
            return None
        document: dict[str, Any] = self.model.model_dump(by_alias=True, exclude_none=True)
        if self.batching is not None:
            document["batching"] = self.batching.model_dump(by_alias=True)
        return document

    llm: LLMSpec | None = None
    routes: tuple[Route, ...] = ()
    fallback: str | None = pydantic.Field(default=None, min_length=1, max_length=63, pattern=ENGINE_NAME)

    @pydantic.model_validator(mode="after")
    def _routes(self) -> EngineSpec:
        if self.type == "router" and not self.routes:
            raise ValueError("a router Engine needs spec.routes")
        if (self.routes or self.fallback is not None) and self.type != "router":
            raise ValueError("spec.routes and spec.fallback are only for router Engines")
        names = [r.name for r in self.routes]
        if len(set(names)) != len(names):
            raise ValueError("route names must be unique")
        return self

    @pydantic.model_validator(mode="after")
    def _schedules(self) -> EngineSpec:
        names = [s.name for s in self.schedules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"schedule names must be unique: {', '.join(duplicates)}")
        if self.schedules and self.worker_pool_ref is None:
            raise ValueError("schedules need a workerPoolRef to enqueue their jobs on")
        if self.llm is not None and self.type not in LLM_TYPES:
            raise ValueError("spec.llm is only for conversation and agent Engines")
        return self


class LastSchedule(workload.Model):
    """When one schedule last enqueued a job (the due time, not the wall-clock time of the enqueue)."""

    name: str
    last_enqueued_time: datetime | None = pydantic.Field(default=None, alias="lastEnqueuedTime")
    last_job_id: str | None = pydantic.Field(default=None, alias="lastJobId")

    @pydantic.field_validator("last_enqueued_time", mode="before")
    @classmethod
    def _time(cls, value: object) -> datetime | None:
        return workload.parse_time(value)


class EngineStatus(workload.Model):
    """`status` of an Engine, as last written by the operator."""

    observed_generation: int | None = pydantic.Field(default=None, alias="observedGeneration")
    replicas: int = 0
    ready_replicas: int = pydantic.Field(default=0, alias="readyReplicas")
    endpoint: str | None = None
    last_schedules: tuple[LastSchedule, ...] = pydantic.Field(default=(), alias="lastSchedules")
    conditions: tuple[dict[str, Any], ...] = ()
    model: dict[str, Any] | None = None
    """The model the runtime reported loading: uri, sha256, inputs, outputs."""

    def last_enqueued(self) -> dict[str, datetime]:
        """Schedule name -> due time of its last enqueued job (schedules never run are absent)."""
        return {s.name: s.last_enqueued_time for s in self.last_schedules if s.last_enqueued_time}

    def body(self) -> dict[str, Any]:
        """The status as the API wants it (camelCase, times as RFC 3339 `Z`, unset fields left out)."""
        data = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        data["lastSchedules"] = [_schedule_body(s) for s in self.last_schedules]
        return data


def _schedule_body(last: LastSchedule) -> dict[str, str]:
    data = {"name": last.name}
    if last.last_enqueued_time is not None:
        data["lastEnqueuedTime"] = workload.format_time(last.last_enqueued_time)
    if last.last_job_id is not None:
        data["lastJobId"] = last.last_job_id
    return data


@dataclass(frozen=True)
class Engine(workload.Parsed):
    """A parsed Engine: identity, spec and the status the operator last wrote."""

    spec: EngineSpec
    status: EngineStatus


def parse(body: Mapping[str, Any]) -> Engine:
    """An Engine from its raw body; raises InvalidResourceError naming every problem by field path."""
    meta = workload.identity(KIND, body)
    spec = workload.validate(EngineSpec, body.get("spec"), "spec")
    return Engine(meta=meta, spec=spec, status=workload.readable_status(EngineStatus, body))
