"""The engine registry and the built-in and test engines."""

from __future__ import annotations

import pytest

from neuroedge_runtime.engines import registry, testing


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
