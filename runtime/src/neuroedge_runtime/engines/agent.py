"""Agent engine: a deterministic planner that splits a task into steps and runs each with a built-in tool.

Tools: `calculator` (arithmetic, evaluated on the syntax tree, never with eval), `convert` (units),
`word_count`, `lookup` (facts from the engine config). Steps are separated by "then" or ";"; the words
"result", "that" or "it" in a step stand for the previous step's numeric result, so "2 + 3 then result * 4"
is 20. The same task and config always give the same plan and answer.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import Field

from neuroedge_runtime.engines import base

TOOLS = ("calculator", "convert", "word_count", "lookup")
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNITS: dict[tuple[str, str], Callable[[float], float]] = {
    ("km", "mi"): lambda v: v / 1.609344,
    ("mi", "km"): lambda v: v * 1.609344,
    ("kg", "lb"): lambda v: v / 0.45359237,
    ("lb", "kg"): lambda v: v * 0.45359237,
    ("c", "f"): lambda v: v * 9 / 5 + 32,
    ("f", "c"): lambda v: (v - 32) * 5 / 9,
    ("m", "ft"): lambda v: v / 0.3048,
    ("ft", "m"): lambda v: v * 0.3048,
}
_CONVERT = re.compile(r"convert\s+(-?\d+(?:\.\d+)?)\s*([a-z]+)\s+(?:to|in)\s+([a-z]+)", re.IGNORECASE)
_WORDS = re.compile(r"count\s+(?:the\s+)?words\s+(?:in|of)\s+[\"'](.*)[\"']", re.IGNORECASE | re.DOTALL)
_EXPRESSION = re.compile(r"(?:PREV|[-+*/%^().\d\s])+")
_PREVIOUS = re.compile(r"\b(result|that|it)\b", re.IGNORECASE)
_STEPS = re.compile(r"\s*(?:;|\bthen\b)\s*", re.IGNORECASE)


class Config(base.StrictConfig):
    """Which tools the agent may use, how many steps it may take, and the facts `lookup` knows."""

    tools: list[str] = Field(default_factory=lambda: list(TOOLS), max_length=len(TOOLS))
    max_steps: Annotated[int, Field(ge=1, le=32)] = 8
    facts: dict[Annotated[str, Field(min_length=1, max_length=128)], str] = Field(
        default_factory=dict, max_length=1000
    )


class Inputs(base.Strict):
    """The task in plain words."""

    task: Annotated[str, Field(min_length=1, max_length=2000)]


class ToolError(ValueError):
    """A tool could not handle its input."""


def calculate(expression: str) -> float:
    """The value of an arithmetic expression (+ - * / % ** ^ and parentheses), without eval."""
    try:
        tree = ast.parse(expression.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"not an arithmetic expression: {expression.strip()!r}") from exc

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
                raise ToolError("exponent too large")
            try:
                return _BINARY[type(node.op)](left, right)
            except ZeroDivisionError as exc:
                raise ToolError("division by zero") from exc
        raise ToolError("only numbers and + - * / % ^ are allowed")

    return value(tree.body)


def plan(task: str, config: Config) -> list[dict[str, str]]:
    """The steps (tool and tool input) for a task (pure)."""
    steps = []
    for clause in (c for c in _STEPS.split(task.strip()) if c.strip()):
        if match := _CONVERT.search(clause):
            steps.append({"tool": "convert", "input": f"{match[1]} {match[2].lower()} {match[3].lower()}"})
        elif match := _WORDS.search(clause):
            steps.append({"tool": "word_count", "input": match[1]})
        elif fact := next((k for k in sorted(config.facts) if k.lower() in clause.lower()), None):
            steps.append({"tool": "lookup", "input": fact})
        elif expression := _expression(clause):
            steps.append({"tool": "calculator", "input": expression})
        else:
            raise base.EngineInputError(
                "no tool can handle a step of the task", [{"loc": ["input", "task"], "msg": clause.strip()}]
            )
    if len(steps) > config.max_steps:
        raise base.EngineInputError(f"the task needs {len(steps)} steps; at most {config.max_steps} allowed")
    return steps


def _expression(clause: str) -> str | None:
    """The longest arithmetic span of a clause, with `result`/`that`/`it` as the placeholder PREV."""
    marked = _PREVIOUS.sub("PREV", clause)
    spans = [m.group(0).strip() for m in _EXPRESSION.finditer(marked)]
    spans = [s for s in spans if re.search(r"\d|PREV", s)]
    return max(spans, key=len) if spans else None


def run_tool(tool: str, argument: str, previous: float | None, config: Config) -> Any:
    """One step's output."""
    if tool == "calculator":
        if "PREV" in argument:
            if previous is None:
                raise ToolError("'result' used before any numeric result")
            argument = argument.replace("PREV", f"({previous!r})")
        return calculate(argument)
    if tool == "convert":
        amount, source, target = argument.split()
        if (source, target) not in _UNITS:
            raise ToolError(f"cannot convert {source} to {target}")
        return _UNITS[(source, target)](float(amount))
    if tool == "word_count":
        return len(argument.split())
    return config.facts[argument]


def run(config: Config, inputs: Inputs) -> base.JsonObject:
    """Plan the task, run each step, and answer with the last step's output (pure)."""
    steps = plan(inputs.task, config)
    results: list[dict[str, Any]] = []
    previous: float | None = None
    for number, step in enumerate(steps, start=1):
        if step["tool"] not in config.tools:
            raise base.EngineInputError(
                f"step {number} needs the tool {step['tool']!r}, which is not enabled"
            )
        try:
            output = run_tool(step["tool"], step["input"], previous, config)
        except ToolError as exc:
            raise base.EngineInputError(f"step {number} ({step['tool']}) failed: {exc}") from None
        if isinstance(output, int | float):
            previous = float(output)
        results.append({"step": number, "tool": step["tool"], "input": step["input"], "output": output})
    return {
        "plan": [{"step": i + 1, **s} for i, s in enumerate(steps)],
        "steps": results,
        "answer": results[-1]["output"] if results else None,
    }


class AgentEngine:
    """Engine kind `agent`, served by /engine/predict."""

    kind = "agent"
    operation = base.Operation.PREDICT

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> base.JsonObject:
        return run(base.parse_config(Config, config), base.parse(Inputs, inputs, "input"))
