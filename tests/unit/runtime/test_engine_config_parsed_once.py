"""An Engine's config is parsed once per registry row and model, not once per request (`base.EngineConfig`),
and what is shared between requests cannot be changed by one of them."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pydantic
import pytest

from neuroedge_runtime.engines import base, predictive
from neuroedge_runtime.engines.service import RegisteredEngine


class Counted(base.StrictConfig):
    """A config model that counts its validations."""

    validations: ClassVar[int] = 0
    size: int

    @pydantic.model_validator(mode="after")
    def _count(self) -> Counted:
        type(self).validations += 1
        return self


def test_a_row_config_is_validated_once_however_many_requests_read_it() -> None:
    Counted.validations = 0
    config = base.EngineConfig({"size": "3"})  # a Kubernetes string value, read as JSON
    first = base.parse_config(Counted, config)
    assert all(base.parse_config(Counted, config) is first for _ in range(5))
    assert first.size == 3
    assert Counted.validations == 1


def test_a_plain_mapping_is_parsed_on_every_call() -> None:
    Counted.validations = 0
    plain = {"size": 3}
    assert base.parse_config(Counted, plain) == base.parse_config(Counted, plain)
    assert Counted.validations == 2


def test_each_model_gets_its_own_parse_of_the_same_config() -> None:
    class Other(base.StrictConfig):
        size: str

    config = base.EngineConfig({"size": "3"})
    assert base.parse_config(Counted, config).size == 3
    assert base.parse_config(Other, config).size == "3"  # a text field keeps the string


def test_a_config_that_does_not_parse_is_refused_on_every_call() -> None:
    config = base.EngineConfig({"size": "many"})
    for _ in range(2):
        with pytest.raises(base.EngineInputError) as caught:
            base.parse_config(Counted, config)
        assert caught.value.errors[0]["loc"] == ["config", "size"]


def test_the_shared_parse_is_frozen() -> None:
    config = base.EngineConfig({"weights": '{"x": 2.0}', "bias": "0.5"})
    parsed = base.parse_config(predictive.Config, config)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        parsed.bias = 9.0  # type: ignore[misc]
    assert base.parse_config(predictive.Config, config).bias == 0.5


def test_a_registered_engine_answers_from_its_one_parse() -> None:
    found = RegisteredEngine(
        "score", "predictive", base.EngineConfig({"weights": '{"x": 2.0, "y": -1.0}', "bias": "0.5"})
    )
    engine = predictive.PredictiveEngine()
    for x in (1.0, 2.0):
        result = asyncio.run(engine(found.config, {"features": {"x": x, "y": 1.0}}))
        assert result["score"] == pytest.approx(0.5 + 2.0 * x - 1.0)
    assert base.parse_config(predictive.Config, found.config).weights == {"x": 2.0, "y": -1.0}
