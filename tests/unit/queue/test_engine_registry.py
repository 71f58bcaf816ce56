"""The engine registry and the built-in and test engines."""

from __future__ import annotations

import pytest

from neuroedge_runtime.engines import base, registry, testing


async def test_builtin_engines() -> None:
    engines = registry.builtin()
    assert engines.names() == ["echo", "noop"]
    assert await engines.get("noop")({"x": 1}) is None
    assert await engines.get("echo")({"x": [1, "a"]}) == {"x": [1, "a"]}


def test_unknown_names_and_duplicates_are_errors() -> None:
    engines = registry.builtin()
    with pytest.raises(registry.UnknownEngine, match="unknown engine 'nope'"):
        engines.get("nope")
    with pytest.raises(ValueError, match="already registered"):
        engines.register("echo", registry.echo)
    with pytest.raises(ValueError, match="must match"):
        engines.register("Bad Name", registry.echo)


async def test_test_engines() -> None:
    engines = registry.builtin()
    testing.register(engines)
    assert await engines.get("sleep")({"seconds": 0}) == {"seconds": 0}
    with pytest.raises(testing.FailEngineError, match="boom"):
        await engines.get("fail")({"message": "boom"})
    with pytest.raises(ValueError, match="seconds"):
        await engines.get("sleep")({"seconds": -1})


async def test_a_kind_job_runs_the_engine_kind_with_its_config() -> None:
    engines = registry.builtin()
    assert engines.kinds() == ["agent", "analytics", "conversation", "predictive"]
    handler = engines.resolve("churn", "predictive", {"weights": {"x": 2.0}, "bias": 1.0})
    result = await handler({"features": {"x": 3}})
    assert isinstance(result, dict) and result["score"] == 7.0
    # The engine name of a kind job is the tenant's Engine, not a named handler: "echo" runs the kind.
    assert (await engines.resolve("echo", "analytics")({"series": [1, 3]}))["mean"] == 2.0  # type: ignore[index]


async def test_a_kind_job_with_unusable_input_or_kind_is_an_error() -> None:
    engines = registry.builtin()
    with pytest.raises(base.EngineInputError, match="must be a JSON object"):
        await engines.resolve("churn", "predictive", {"weights": {"x": 1}})([1, 2])
    with pytest.raises(base.EngineInputError, match="invalid input"):
        await engines.resolve("churn", "predictive", {"weights": {"x": 1}})({"nope": 1})
    with pytest.raises(registry.UnknownEngine, match="engine kind 'vision' is not available"):
        engines.resolve("churn", "vision", {})
