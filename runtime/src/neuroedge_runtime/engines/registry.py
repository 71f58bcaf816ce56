"""The engine registry: the one place that turns a job's engine into something to run.

Two families live behind it, both JSON in and JSON out:
- named handlers `async handler(input) -> result`: the built-in `noop` and `echo` (the queue's tests and
  benchmarks measure the queue itself with them) and, under `NEUROEDGE_TEST_ENGINES=1`, `engines.testing`;
- engine kinds (`engines.catalog`: predictive, agent, conversation, analytics), the `base.Engine` objects the
  API's synchronous `/engine/*` endpoints call; a job for a tenant's Engine carries its kind and config, and
  `resolve` binds them into a handler, so a queued job runs exactly the code the synchronous endpoint runs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import pydantic

from neuroedge_runtime.engines import base, catalog, context
from neuroedge_runtime.engines.retrieval import Retriever
from neuroedge_runtime.engines.router import Embed

Handler = Callable[[pydantic.JsonValue], Awaitable[pydantic.JsonValue]]
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


class UnknownEngine(LookupError):  # noqa: N818 - reads better than UnknownEngineError at call sites
    """No handler is registered under that name (or no engine kind of that name exists)."""


class Registry:
    """Engine name -> handler, and engine kind -> `base.Engine`."""

    def __init__(
        self, handlers: Iterable[tuple[str, Handler]] = (), kinds: Mapping[str, base.Engine] | None = None
    ) -> None:
        self._handlers: dict[str, Handler] = {}
        self._kinds: dict[str, base.Engine] = dict(kinds or {})
        for name, handler in handlers:
            self.register(name, handler)

    def register(self, name: str, handler: Handler) -> None:
        """Add `handler` under `name` (a lowercase name; each name once)."""
        if not _NAME.match(name):
            raise ValueError(f"engine name {name!r} must match {_NAME.pattern}")
        if name in self._handlers:
            raise ValueError(f"engine {name!r} is already registered")
        self._handlers[name] = handler

    def add_kind(self, engine: base.Engine, *, replace: bool = False) -> None:
        """Add an engine kind that needs process resources (the worker's `onnx` kind, built at start);
        `replace`: it takes the place of the built-in kind of that name (the LLM-capable `agent`)."""
        if engine.kind in self._kinds and not replace:
            raise ValueError(f"engine kind {engine.kind!r} is already registered")
        self._kinds[engine.kind] = engine

    def get(self, name: str) -> Handler:
        """The handler of `name`, or UnknownEngine."""
        try:
            return self._handlers[name]
        except KeyError:
            raise UnknownEngine(f"unknown engine {name!r}") from None

    def kind(self, kind: str) -> base.Engine:
        """The engine kind `kind`, or UnknownEngine."""
        try:
            return self._kinds[kind]
        except KeyError:
            raise UnknownEngine(f"engine kind {kind!r} is not available in this runtime") from None

    def resolve(self, name: str, kind: str | None = None, config: Mapping[str, Any] | None = None) -> Handler:
        """What runs a job: the named handler when `kind` is None, else engine kind `kind` bound to `config`
        (the input must then be a JSON object; anything else is an EngineInputError, never retried)."""
        if kind is None:
            return self.get(name)
        engine = self.kind(kind)
        bound = dict(config or {})

        async def run(value: pydantic.JsonValue) -> pydantic.JsonValue:
            if not isinstance(value, dict):
                raise base.EngineInputError("the input of an engine job must be a JSON object")
            named = context.ENGINE.set(name)
            try:
                return await engine(bound, value)
            finally:
                context.ENGINE.reset(named)

        return run

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._handlers)

    def kinds(self) -> list[str]:
        """Available engine kinds, sorted."""
        return sorted(self._kinds)


async def noop(_input: pydantic.JsonValue) -> pydantic.JsonValue:
    """Does nothing and returns null: measures the queue's own cost."""
    return None


async def echo(value: pydantic.JsonValue) -> pydantic.JsonValue:
    """Returns its input unchanged: lets tests check that every result belongs to its job."""
    return value


def builtin(retriever: Retriever | None = None, embed: Embed | None = None) -> Registry:
    """A registry with the built-in named engines and every engine kind of `engines.catalog`."""
    return Registry([("noop", noop), ("echo", echo)], catalog.default_kinds(retriever, embed))
