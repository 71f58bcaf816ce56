"""The engine registry: engine name -> `async handler(input) -> result`, with JSON values in and out.

The worker runs queued jobs through it and the API can run engines synchronously through the same handlers.
Kept minimal on purpose: a name lookup with a clear error for unknown names, and two built-in engines
(`noop`, `echo`) that tests and benchmarks use to measure the queue itself.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable

import pydantic

Handler = Callable[[pydantic.JsonValue], Awaitable[pydantic.JsonValue]]
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


class UnknownEngine(LookupError):  # noqa: N818 - reads better than UnknownEngineError at call sites
    """No handler is registered under that name."""


class Registry:
    """Engine name -> handler."""

    def __init__(self, handlers: Iterable[tuple[str, Handler]] = ()) -> None:
        self._handlers: dict[str, Handler] = {}
        for name, handler in handlers:
            self.register(name, handler)

    def register(self, name: str, handler: Handler) -> None:
        """Add `handler` under `name` (a lowercase name; each name once)."""
        if not _NAME.match(name):
            raise ValueError(f"engine name {name!r} must match {_NAME.pattern}")
        if name in self._handlers:
            raise ValueError(f"engine {name!r} is already registered")
        self._handlers[name] = handler

    def get(self, name: str) -> Handler:
        """The handler of `name`, or UnknownEngine."""
        try:
            return self._handlers[name]
        except KeyError:
            raise UnknownEngine(f"unknown engine {name!r}") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._handlers)


async def noop(_input: pydantic.JsonValue) -> pydantic.JsonValue:
    """Does nothing and returns null: measures the queue's own cost."""
    return None


async def echo(value: pydantic.JsonValue) -> pydantic.JsonValue:
    """Returns its input unchanged: lets tests check that every result belongs to its job."""
    return value


def builtin() -> Registry:
    """A registry with the built-in engines."""
    return Registry([("noop", noop), ("echo", echo)])
