"""Predictive engine: a linear or logistic model over named numeric features, weights from the config."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field

from neuroedge_runtime.engines import base

FeatureName = Annotated[str, Field(min_length=1, max_length=128)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Config(base.StrictConfig):
    """A model: `score = bias + sum(weight_i * x_i)`, squashed by the logistic function for `logistic`."""

    model: Literal["linear", "logistic"] = "linear"
    weights: dict[FeatureName, Finite] = Field(min_length=1, max_length=10_000)
    bias: Finite = 0.0
    threshold: Annotated[float, Field(gt=0, lt=1)] = 0.5
    labels: tuple[str, str] = ("negative", "positive")


class Inputs(base.Strict):
    """The features of one instance; every weighted feature must be present."""

    features: dict[FeatureName, Finite] = Field(max_length=10_000)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def predict(config: Config, inputs: Inputs) -> base.JsonObject:
    """The model's output with each feature's contribution (pure)."""
    if config.weights.keys() != inputs.features.keys():  # one set comparison on the way of every request
        missing = sorted(config.weights.keys() - inputs.features.keys())
        unknown = sorted(inputs.features.keys() - config.weights.keys())
        raise base.EngineInputError(
            "features do not match the model",
            [{"loc": ["input", "features", n], "msg": "missing"} for n in missing]
            + [{"loc": ["input", "features", n], "msg": "not a feature of the model"} for n in unknown],
        )
    contributions = {name: w * inputs.features[name] for name, w in config.weights.items()}
    z = config.bias + math.fsum(contributions.values())
    result: base.JsonObject = {"model": config.model, "contributions": contributions, "linear_score": z}
    if config.model == "logistic":
        probability = _sigmoid(z)
        result.update(score=probability, label=config.labels[int(probability >= config.threshold)])
    else:
        result["score"] = z
    return result


class PredictiveEngine:
    """Engine kind `predictive`, served by /engine/predict."""

    kind = "predictive"
    operation = base.Operation.PREDICT

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> base.JsonObject:
        return predict(base.parse_config(Config, config), base.parse(Inputs, inputs, "input"))
