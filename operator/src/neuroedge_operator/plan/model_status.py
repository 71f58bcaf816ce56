"""The `ModelReady` condition and `status.model` of a predictive Engine, from what the runtime instances
reported loading (`neuroedge.engine_model_reports`). Pure.

Only reports about the Engine's current model count (same URI, and same digest when the spec pins one): a
report about an earlier model says nothing about this one. One instance that loaded it makes the model ready;
otherwise a failure report makes the Engine `Ready=False` with the runtime's reason (Unreachable,
DigestMismatch, InvalidModel, TooLarge); with no report yet the model is still loading.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neuroedge_operator.plan import model_volumes, workload_status
from neuroedge_operator.resources import conditions
from neuroedge_operator.resources import engine as engine_model

REASON = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
MESSAGE_LIMIT = 1000


@dataclass(frozen=True)
class ModelReport:
    """One runtime instance's last word about an Engine's model."""

    instance: str
    uri: str
    sha256: str
    loaded: bool
    reason: str
    message: str
    inputs: tuple[dict[str, Any], ...] = ()
    outputs: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ModelStatus:
    """What the Engine's status says about its model."""

    condition: conditions.Condition
    model: dict[str, Any] | None = None
    """`status.model`: uri, sha256, inputs, outputs of the loaded model (None removes it)."""
    blocker: workload_status.Blocker | None = None


def _current(model: engine_model.ModelSource, report: ModelReport) -> bool:
    return report.uri == model.uri and (model.sha256 is None or report.sha256 == model.sha256)


def evaluate(
    engine: engine_model.Engine,
    reports: Sequence[ModelReport],
    missing_volume: model_volumes.Volume | None = None,
) -> ModelStatus | None:
    """The model part of the Engine's status; None for an Engine that serves no model (not predictive).
    `missing_volume`: the model's claim or ConfigMap, when the handler found it absent (that comes first: no
    pod of the current spec can have loaded the model)."""
    if engine.spec.type != "predictive":
        return None
    model = engine.spec.model
    if model is None:
        return ModelStatus(conditions.model_builtin())
    if missing_volume is not None:
        condition, blocker = model_volumes.not_found(missing_volume, engine.namespace, model.uri)
        return ModelStatus(condition, None, blocker)
    current = sorted((r for r in reports if _current(model, r)), key=lambda r: r.instance)
    loaded = [r for r in current if r.loaded]
    if loaded:
        first = loaded[0]
        described = {
            "uri": first.uri,
            "sha256": first.sha256,
            "inputs": list(first.inputs),
            "outputs": list(first.outputs),
        }
        return ModelStatus(conditions.model_loaded(first.sha256, len(loaded)), described)
    if current:
        failure = current[0]
        # The row is the runtime's word, but never trusted to fit the condition's schema.
        reason = failure.reason if REASON.match(failure.reason) else "ModelNotLoaded"
        message = f"{failure.instance}: {failure.message}"[:MESSAGE_LIMIT]
        blocker = workload_status.Blocker(reason, f"the model cannot be loaded: {message}")
        return ModelStatus(conditions.model_failed(reason, message), None, blocker)
    return ModelStatus(conditions.model_loading(model.uri))
