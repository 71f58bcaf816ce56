"""Engines that misbehave on purpose, for the queue's recovery tests; registered only when the worker runs
with `NEUROEDGE_TEST_ENGINES=1`, never in a production pool.

- `sleep`: sleeps `input["seconds"]` then returns its input (a job in flight, or a hanging one);
- `fail`: always raises with `input["message"]` (a job that goes to the dead-letter stream);
- `flaky`: raises until the epoch time `input["until"]`, then echoes its input (a job that succeeds on retry).
"""

from __future__ import annotations

import asyncio
import time

import pydantic

from neuroedge_runtime.engines import registry


class FailEngineError(RuntimeError):
    """The error the `fail` engine raises."""


def _field(value: pydantic.JsonValue, name: str) -> pydantic.JsonValue:
    if not isinstance(value, dict) or name not in value:
        raise ValueError(f"input must be an object with {name!r}")
    return value[name]


async def sleep(value: pydantic.JsonValue) -> pydantic.JsonValue:
    """Sleep `seconds`, then echo the input."""
    seconds = _field(value, "seconds")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        raise ValueError("seconds must be a non-negative number")
    await asyncio.sleep(seconds)
    return value


async def fail(value: pydantic.JsonValue) -> pydantic.JsonValue:
    """Raise FailEngineError(message)."""
    raise FailEngineError(str(_field(value, "message")))


async def flaky(value: pydantic.JsonValue) -> pydantic.JsonValue:
    """Raise FailEngineError before `until` (epoch seconds), echo the input after."""
    until = _field(value, "until")
    if not isinstance(until, int | float) or isinstance(until, bool):
        raise ValueError("until must be a number of epoch seconds")
    if time.time() < until:
        raise FailEngineError(f"not before {until}")
    return value


def register(target: registry.Registry) -> None:
    """Add the test engines to `target`."""
    target.register("sleep", sleep)
    target.register("fail", fail)
    target.register("flaky", flaky)
