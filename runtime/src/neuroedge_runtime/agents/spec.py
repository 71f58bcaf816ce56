"""An LLM agent Engine's settings (its registry config) and the OpenAI tool definitions they allow (pure).

The config is the Engine's string map (`spec.config`) plus `llm` (`spec.llm`, JSON text): which built-in tools
the model may call, which of the tenant's Engines and VectorIndexes those tools may reach, and the bounds of
one run (steps, tokens, seconds). The tool schemas name the allowed Engines and indexes as enums, so a model
that follows its schema can only name what this tenant owns; the executor checks again anyway.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from neuroedge_runtime.engines import base

ToolName = Literal["calculator", "predict", "vector_search", "route"]
ALL_TOOLS: tuple[ToolName, ...] = ("calculator", "predict", "vector_search", "route")
ResourceName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")]
DEFAULT_SYSTEM = (
    "You are an agent. Use the tools to work out the answer: call one when it helps, read its result, and "
    "answer the task in plain text once you know the answer."
)


class AgentConfig(base.StrictConfig):
    """`spec.config` of an LLM agent Engine (`llm` is `spec.llm`, parsed by `llm.config`)."""

    llm: str | dict[str, Any]
    tools: list[ToolName] = Field(default_factory=lambda: list(ALL_TOOLS), min_length=1, max_length=4)
    engines: list[ResourceName] = Field(default_factory=list, max_length=32)
    """The tenant's Engines `predict` may run (and routers `route` may ask); empty: the tools are left out."""
    indexes: list[ResourceName] = Field(default_factory=list, max_length=32)
    """The tenant's VectorIndexes (with an embedding model) `vector_search` may search."""
    max_steps: Annotated[int, Field(ge=1, le=32)] = 6
    """Most LLM calls in one run; each may ask for several tool calls."""
    token_budget: Annotated[int, Field(ge=16, le=1_000_000)] = 8192
    """Most tokens (prompt and completion, all steps) one run may use."""
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 120.0
    """Most seconds one run may take (the job's own timeout still applies)."""
    system: Annotated[str, Field(min_length=1, max_length=8000)] = DEFAULT_SYSTEM
    tool_choice: Literal["auto", "required"] = "auto"
    """`tool_choice` of the first step (`required` makes the model call a tool before answering)."""
    top_k: Annotated[int, Field(ge=1, le=20)] = 4
    """Passages `vector_search` returns."""

    @model_validator(mode="after")
    def _tools_have_targets(self) -> AgentConfig:
        unusable = set() if self.engines else {"predict", "route"}
        if not self.indexes:
            unusable.add("vector_search")
        tools = [t for t in self.tools if t not in unusable]
        if not tools:
            raise ValueError(
                "no usable tool: predict and route need `engines`, vector_search needs `indexes`"
            )
        object.__setattr__(self, "tools", tools)  # the model is frozen once validated, not while
        return self


class Inputs(base.Strict):
    """The task in plain words."""

    task: Annotated[str, Field(min_length=1, max_length=20_000)]


def _function(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": schema}}


def tool_definitions(config: AgentConfig) -> list[dict[str, Any]]:
    """The OpenAI `tools` of a run: one function per enabled tool, its targets as enums."""
    tools: list[dict[str, Any]] = []
    for name in config.tools:
        if name == "calculator":
            expression = {"type": "string", "description": "arithmetic: numbers, + - * / % ^ and parentheses"}
            tools.append(
                _function(
                    "calculator",
                    "Evaluate an arithmetic expression.",
                    {"expression": expression},
                    ["expression"],
                )
            )
        elif name == "predict":
            properties = {
                "engine": {"type": "string", "enum": list(config.engines)},
                "input": {"type": "object", "description": "the engine's input document"},
            }
            tools.append(
                _function(
                    "predict", "Run one of the tenant's engines on an input.", properties, ["engine", "input"]
                )
            )
        elif name == "vector_search":
            properties = {
                "index": {"type": "string", "enum": list(config.indexes)},
                "query": {"type": "string"},
            }
            tools.append(
                _function(
                    "vector_search",
                    "Find the passages of a knowledge base nearest to a query.",
                    properties,
                    ["index", "query"],
                )
            )
        else:
            properties = {
                "router": {"type": "string", "enum": list(config.engines)},
                "text": {"type": "string"},
            }
            tools.append(
                _function(
                    "route",
                    "Ask a router engine which route best matches a text.",
                    properties,
                    ["router", "text"],
                )
            )
    return tools
