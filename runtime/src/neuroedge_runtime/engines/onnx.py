"""Engine kind `onnx`: a predictive Engine's trained model, run by a worker for `/engine/run` jobs.

The job's config is the Engine's model spec (`engines.model` of the registry row), its input what
`/engine/predict` takes (`instances` rows or named `inputs`), typically many rows at once. A model that cannot
be fetched right now (Unreachable) fails the attempt and is retried; one that can never load (digest mismatch,
not ONNX, too large, bad spec) or input the model cannot take fails the job at once (EngineInputError)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

from neuroedge_runtime.engines import base
from neuroedge_runtime.serving import artifacts, local, service, spec, tensors

KIND = "onnx"


class OnnxEngine:
    """Runs a model spec's model on a job's input."""

    kind = KIND
    operation = base.Operation.PREDICT

    def __init__(self, models: local.LocalModels) -> None:
        self._models = models

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> base.JsonObject:
        try:
            model = spec.parse(dict(config))
        except pydantic.ValidationError as exc:
            raise base.EngineInputError(f"the job's model spec is unusable: {exc}") from None
        try:
            served = await self._models.served(model)
        except artifacts.ArtifactError as exc:
            if exc.reason == "Unreachable":
                raise
            raise base.EngineInputError(f"the model cannot be loaded: {exc.reason}: {exc.message}") from None
        try:
            return await service.score(served, inputs)
        except tensors.TensorError as exc:
            raise base.EngineInputError(str(exc), [{"loc": ["input"], "msg": str(exc)}]) from None
