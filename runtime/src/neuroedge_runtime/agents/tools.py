"""The agent's tools, executed for the run's tenant only: `calculator`, `predict` (one of the tenant's
Engines), `vector_search` (one of the tenant's text-embedded VectorIndexes) and `route` (one of the tenant's
router Engines).

Every call is checked against the agent's own lists (`engines`, `indexes`) before anything is looked up, and
the lookups themselves run under the tenant's row-level security: a name outside the tenant, or outside the
agent's lists, is refused with a message the model reads (the run goes on), never resolved elsewhere. Agents
are not tools of agents (no unbounded recursion through `predict`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from neuroedge_runtime import problems
from neuroedge_runtime.agents import spec
from neuroedge_runtime.engines import agent as rules
from neuroedge_runtime.engines.service import EngineService
from neuroedge_runtime.vectors import models
from neuroedge_runtime.vectors.service import VectorService

MAX_PASSAGE_CHARS = 1000


class ToolRefused(Exception):  # noqa: N818 - reads better at call sites
    """The call cannot be made (unknown tool, bad arguments, a target outside the agent's lists or the
    tenant, or the target's own error); the message goes back to the model as the tool's result."""


@dataclass(frozen=True)
class Outcome:
    """What one tool call gave: a JSON result, or the reason it was refused."""

    result: Any = None
    error: str | None = None

    def content(self) -> str:
        """The `tool` message content the model reads next."""
        if self.error is not None:
            return json.dumps({"error": self.error})
        return json.dumps(self.result, ensure_ascii=False, default=str)


@dataclass
class Toolbox:
    """Runs tool calls for one tenant at a time (None: that family of tools is not available here)."""

    engines: EngineService | None
    vectors: VectorService | None

    async def call(self, tenant: str, config: spec.AgentConfig, name: str, arguments: str) -> Outcome:
        """The outcome of the model's call of `name` with `arguments` (JSON text)."""
        try:
            parsed = parse_arguments(arguments)
            if name not in config.tools:
                raise ToolRefused(f"there is no tool named {name!r}; the tools are {', '.join(config.tools)}")
            return Outcome(result=await self._run(tenant, config, name, parsed))
        except ToolRefused as exc:
            return Outcome(error=str(exc))

    async def _run(self, tenant: str, config: spec.AgentConfig, name: str, args: dict[str, Any]) -> Any:
        if name == "calculator":
            return calculator(args)
        if name == "vector_search":
            return await self._search(tenant, config, args)
        return await self._engine(tenant, config, name, args)

    async def _search(self, tenant: str, config: spec.AgentConfig, args: dict[str, Any]) -> Any:
        index, query = text_argument(args, "index"), text_argument(args, "query")
        if index not in config.indexes:
            raise ToolRefused(
                f"index {index!r} is not one of this agent's indexes ({', '.join(config.indexes)})"
            )
        if self.vectors is None:
            raise ToolRefused("vector search is not available in this runtime")
        try:
            request = models.SearchRequest(index=index, text=query[:20_000], top_k=config.top_k)
            found = await self.vectors.search(tenant, request)
        except problems.Problem as exc:
            raise ToolRefused(f"index {index!r}: {exc.detail}") from None
        return [
            {
                "id": h.id,
                "score": round(h.score, 4),
                "text": str(h.payload.get("text", ""))[:MAX_PASSAGE_CHARS],
            }
            for h in found.hits
        ]

    async def _engine(self, tenant: str, config: spec.AgentConfig, tool: str, args: dict[str, Any]) -> Any:
        target = text_argument(args, "router" if tool == "route" else "engine")
        if target not in config.engines:
            raise ToolRefused(
                f"engine {target!r} is not one of this agent's engines ({', '.join(config.engines)})"
            )
        if self.engines is None:
            raise ToolRefused("engines are not available as tools in this runtime")
        try:
            found = await self.engines.lookup(tenant, target)
            if found.kind == "agent":
                raise ToolRefused(f"engine {target!r} is an agent: agents are not tools of agents")
            if tool == "route":
                if found.kind != "router":
                    raise ToolRefused(f"engine {target!r} is a {found.kind} engine, not a router")
                return await self.engines.call(tenant, target, {"text": text_argument(args, "text")})
            inputs = args.get("input")
            if not isinstance(inputs, dict):
                raise ToolRefused("predict needs `input`, a JSON object")
            return await self.engines.call(tenant, target, inputs)
        except problems.Problem as exc:
            raise ToolRefused(f"engine {target!r}: {exc.detail}") from None


def parse_arguments(arguments: str) -> dict[str, Any]:
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        raise ToolRefused("the arguments are not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ToolRefused("the arguments must be a JSON object")
    return parsed


def text_argument(args: dict[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value:
        raise ToolRefused(f"the argument {name!r} must be a non-empty string")
    return value


def calculator(args: dict[str, Any]) -> float:
    expression = text_argument(args, "expression")
    if len(expression) > 500:
        raise ToolRefused("the expression is longer than 500 characters")
    try:
        return rules.calculate(expression)
    except (rules.ToolError, RecursionError, OverflowError) as exc:
        raise ToolRefused(str(exc) or type(exc).__name__) from None
