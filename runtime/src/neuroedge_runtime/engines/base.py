"""The engine interface: what the runtime's /engine/* endpoints and its job worker (`engines.registry`) call.

An engine kind is an object with a `kind`, the `operation` it serves (predict, analyze or route) and an async
`__call__(config, inputs) -> result`. `config` is the Engine resource's configuration (from the engine
registry table), `inputs` the request's input; both are plain JSON values the engine validates itself with its
own pydantic models, raising `EngineInputError` (answered as 422) for anything it cannot use.
"""

from __future__ import annotations

import contextlib
import enum
import json
import types
import typing
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar, cast

import pydantic

JsonObject = dict[str, Any]
M = TypeVar("M", bound=pydantic.BaseModel)


class Operation(enum.StrEnum):
    """The synchronous endpoint an engine kind answers on."""

    PREDICT = "predict"
    ANALYZE = "analyze"
    ROUTE = "route"


class EngineInputError(ValueError):
    """The engine's config or the request's input is not usable; `errors` locate the problems."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class Engine(Protocol):
    """One engine kind."""

    kind: str
    operation: Operation

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> JsonObject:
        """Run the engine on `inputs` with `config`; raise EngineInputError for bad config or input."""
        ...


class Strict(pydantic.BaseModel):
    """Base of the engines' config and input models: unknown fields are errors."""

    model_config = pydantic.ConfigDict(extra="forbid")


class StrictConfig(Strict):
    """Base of the engines' config models: strict, and frozen, because one parse of a registry row's config
    serves every request until the row changes (`EngineConfig`)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class EngineConfig(dict[str, Any]):
    """An Engine's config as its registry row holds it, with the models `parse_config` has parsed it into.

    Why: a registry row is read once and then serves every request until the Engine changes, and parsing
    its config (decoding Kubernetes string values as JSON, then validating) was a fixed cost of every
    request: about 4.5 us for a predictive engine's eight weights, 12.6 us when they arrive as a JSON
    string. Read-only by contract: nothing changes a row's config in place (a changed Engine is a new row,
    read into a new EngineConfig), and the parsed models are frozen (`StrictConfig`)."""

    __slots__ = ("_parsed",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self._parsed: dict[type[pydantic.BaseModel], pydantic.BaseModel] = {}


def parse_config(model: type[M], data: Mapping[str, Any]) -> M:
    """An engine's config as `model`: parsed once per `EngineConfig` and model (a config that does not parse
    is parsed, and refused, again on each call). Engine configs arrive as Kubernetes string maps
    (`Engine.spec.config`, a ConfigMap's data), so a string value of a field that is not text is read as
    JSON: `max_history: "20"`, `documents: '[{"id": ...}]'`. A value that is not valid JSON is passed on
    unchanged, and validation then names the field."""
    if not isinstance(data, EngineConfig):
        return _parse_config(model, data)
    parsed = data._parsed.get(model)
    if parsed is None:
        parsed = data._parsed[model] = _parse_config(model, data)
    return cast(M, parsed)


def _parse_config(model: type[M], data: Mapping[str, Any]) -> M:
    decoded = dict(data)
    for key, value in data.items():
        field = model.model_fields.get(key)
        if isinstance(value, str) and field is not None and not _is_text(field.annotation):
            with contextlib.suppress(json.JSONDecodeError):
                decoded[key] = json.loads(value)
    return parse(model, decoded, "config")


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if typing.get_origin(annotation) is typing.Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(annotation))
    args = typing.get_args(annotation)
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and str in args


def parse(model: type[M], data: Mapping[str, Any], what: str) -> M:
    """`data` validated as `model`, or EngineInputError naming `what` (config or input) and the fields."""
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        errors = [{"loc": [what, *e["loc"]], "msg": e["msg"]} for e in exc.errors(include_url=False)]
        raise EngineInputError(f"invalid {what} for this engine", errors) from None
