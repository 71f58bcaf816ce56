"""The tool-calling loop of an LLM agent Engine (OpenAI tools format), bounded in steps, tokens and time.

One run: the system prompt and the task go to the Engine's upstream with the tool definitions; each tool call
of the answer is executed for the run's tenant (`agents.tools`) and its result is sent back as a `tool`
message; the loop ends when the model answers without a tool call, or at a bound. The last allowed step is
sent with `tool_choice: "none"`, so a run that reaches it still ends with an answer.

Every LLM call is metered like a gateway request: the tenant's token budget (Tenant `spec.llmBudget`) is
reserved before it (estimated prompt + `max_tokens`) and settled after it with the upstream's reported usage,
the usage table and Prometheus counters record it under the agent's Engine name, and the run's own
`token_budget` caps each call's `max_tokens` by what is left of it. The result records every step: the
tokens it used, each tool called, its arguments and its result (or why it was refused).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from neuroedge_runtime import problems
from neuroedge_runtime.agents import spec, tools
from neuroedge_runtime.engines import base, context
from neuroedge_runtime.llm import budget, chat, metering, upstream
from neuroedge_runtime.llm import config as llm_config
from neuroedge_runtime.llm.sse import Usage
from neuroedge_runtime.tenancy.registry import TenantRegistry

MAX_TOOL_CALLS_PER_STEP = 8
MAX_TOOL_RESULT_CHARS = 4000


@dataclass
class AgentRuntime:
    """What LLM agent runs need from the process: the upstream session, budgets, metering, tenants, tools."""

    session: aiohttp.ClientSession
    budgets: budget.Budgets
    usage: metering.UsageStore
    tenants: TenantRegistry
    toolbox: tools.Toolbox
    metrics: metering.LLMMetrics | None = None


@dataclass
class Run:
    """One run in progress: the conversation so far, the steps taken and the tokens used."""

    tenant: str
    engine: str
    config: spec.AgentConfig
    llm: llm_config.LLMConfig
    limits: budget.Limits
    messages: list[dict[str, Any]]
    steps: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    last_prompt: tuple[int, int] = (0, 0)
    """(messages, prompt tokens) of the last call: the next prompt is that long plus what was added."""

    @property
    def used(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def result(self, answer: str | None, stopped: str) -> base.JsonObject:
        usage = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.used,
        }
        return {"answer": answer, "stopped": stopped, "steps": self.steps, "usage": usage}


class LLMAgentEngine:
    """Engine kind `agent`: the LLM loop for Engines with `spec.llm`, the rule-based planner otherwise."""

    kind = "agent"
    operation = base.Operation.PREDICT

    def __init__(self, rules: base.Engine, runtime: AgentRuntime | None) -> None:
        self._rules = rules
        self._runtime = runtime

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> base.JsonObject:
        if llm_config.LLM_KEY not in config:
            return await self._rules(config, inputs)
        if self._runtime is None:
            raise problems.unavailable(
                "LLM agents need a database in this runtime (NEUROEDGE_WORKER_VECTORS=1)"
            )
        settings = base.parse_config(spec.AgentConfig, config)
        try:
            llm = llm_config.from_engine(self.kind, config)
        except llm_config.NotAnLLMEngine as exc:
            raise base.EngineInputError(str(exc), [{"loc": ["config", "llm"], "msg": str(exc)}]) from None
        task = base.parse(spec.Inputs, inputs, "input").task
        who = (context.tenant(), context.engine())
        return await run(self._runtime, who, settings, llm, task)


async def run(
    runtime: AgentRuntime,
    who: tuple[str, str],
    config: spec.AgentConfig,
    llm: llm_config.LLMConfig,
    task: str,
) -> base.JsonObject:
    """Run the loop for `task` (for `who`: the tenant and the agent's Engine name) until the model answers or
    a bound is reached."""
    tenant, engine = who
    info = await runtime.tenants.get(tenant)
    limits = (
        budget.Limits(info.llm_tokens_per_minute, info.llm_tokens_per_day)
        if info
        else budget.Limits(None, None)
    )
    messages = [{"role": "system", "content": config.system}, {"role": "user", "content": task}]
    state = Run(tenant, engine, config, llm, limits, messages)
    definitions = spec.tool_definitions(config)
    began = time.monotonic()
    for number in range(1, config.max_steps + 1):
        left = config.timeout_seconds - (time.monotonic() - began)
        if left <= 0:
            return state.result(None, "timeout")
        choice = tool_choice(number, config)
        planned = request_body(state, definitions, choice)
        if planned is None:
            return state.result(None, "token_budget")
        try:
            message = await step(runtime, state, *planned, left)
        except TimeoutError:
            return state.result(None, "timeout")
        calls = message.get("tool_calls") or []
        record: dict[str, Any] = state.steps[-1]
        if not calls:
            record["content"] = message.get("content")
            return state.result(message.get("content"), "answer")
        state.messages.append({"role": "assistant", "content": message.get("content"), "tool_calls": calls})
        record["tool_calls"] = await call_tools(runtime.toolbox, state, calls)
    return state.result(None, "max_steps")


def tool_choice(number: int, config: spec.AgentConfig) -> str:
    """The first step's configured choice, `auto` after it, and `none` on the last allowed step."""
    if number == config.max_steps:
        return "none"
    return config.tool_choice if number == 1 else "auto"


def request_body(
    state: Run, definitions: list[dict[str, Any]], choice: str
) -> tuple[dict[str, Any], int] | None:
    """The next call's body and its estimated prompt tokens, its `max_tokens` bounded by the Engine and by
    what is left of the run's token budget after the prompt; None when nothing is left."""
    prompt = estimate_prompt(state, definitions)
    room = state.config.token_budget - state.used - prompt
    if room < 1:
        return None
    body: dict[str, Any] = {
        "messages": list(state.messages),
        "tools": definitions,
        "tool_choice": choice,
        "max_tokens": min(state.llm.max_tokens, room),
    }
    if state.llm.temperature is not None:
        body["temperature"] = state.llm.temperature
    return body, prompt


def estimate_prompt(state: Run, definitions: list[dict[str, Any]]) -> int:
    """The next prompt's tokens: the byte estimate of the whole conversation and the tools, or the last call's
    real prompt plus the estimate of the messages added since, whichever is larger (a chat template's tool
    instructions make real prompts longer than their bytes suggest)."""
    whole = [*state.messages, {"role": "tools", "content": json.dumps(definitions)}]
    counted, real = state.last_prompt
    since = chat.estimate_prompt_tokens(state.messages[counted:]) if real else 0
    return max(chat.estimate_prompt_tokens(whole), real + since)


async def step(
    runtime: AgentRuntime, state: Run, body: dict[str, Any], estimate: int, seconds_left: float
) -> dict[str, Any]:
    """One LLM call, reserved against and settled with the tenant's token budget, metered, recorded."""
    held = await runtime.budgets.reserve(state.tenant, estimate + body["max_tokens"], state.limits)
    if isinstance(held, budget.Denied):
        raise budget_problem(held, state)
    usage: Usage | None = None
    try:
        completion = await complete(runtime, state, body, min(seconds_left, state.llm.timeout_seconds))
        usage = Usage(*usage_of(completion, estimate))
    finally:  # a call cut short still used its prompt
        spent = usage or Usage(estimate, 0, estimated=True)
        await asyncio.shield(settle(runtime, state, held, spent))
    state.prompt_tokens += usage.prompt_tokens
    state.last_prompt = (len(state.messages), usage.prompt_tokens)
    state.completion_tokens += usage.completion_tokens
    record = {
        "step": len(state.steps) + 1,
        "tokens": {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens},
    }
    state.steps.append(record)
    return message_of(completion)


async def complete(runtime: AgentRuntime, state: Run, body: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The upstream's completion (with fallbacks); 502 or 504 as a problem when there is none."""
    try:
        opened = await upstream.open_completion(runtime.session, state.llm.upstreams(), body, seconds)
    except upstream.UpstreamTimeout as exc:
        raise problems.Problem(504, "upstream-timeout", "Upstream timeout", str(exc)) from None
    except upstream.NoUpstream as exc:
        detail = "no upstream LLM server could answer: " + "; ".join(exc.failures)
        raise problems.Problem(502, "upstream-unavailable", "Upstream unavailable", detail) from None
    try:
        data = await opened.response.read()
    finally:
        opened.response.close()
    text = data.decode("utf-8", "replace")
    if opened.response.status != 200:
        detail = f"the upstream refused the agent's request: HTTP {opened.response.status} {text[:500]}"
        raise problems.Problem(502, "upstream-refused", "Upstream refused", detail)
    try:
        completion = json.loads(text)
    except ValueError:
        completion = None
    if not isinstance(completion, dict):
        raise problems.Problem(
            502, "upstream-invalid", "Upstream answer invalid", "the upstream's answer is not JSON"
        )
    return completion


def usage_of(completion: dict[str, Any], estimate: int) -> tuple[int, int]:
    usage = completion.get("usage") or {}
    prompt, done = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(done, int):
        return prompt, done
    return estimate, 0


def message_of(completion: dict[str, Any]) -> dict[str, Any]:
    try:
        message = completion["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise problems.Problem(
            502, "upstream-invalid", "Upstream answer invalid", "the upstream's answer has no message"
        ) from None
    return message if isinstance(message, dict) else {}


async def settle(runtime: AgentRuntime, state: Run, held: budget.Reservation, usage: Usage) -> None:
    await runtime.budgets.settle(held, usage.total_tokens)
    await runtime.usage.record(state.tenant, state.engine, usage)
    if runtime.metrics is not None:
        labels = (state.tenant, state.engine)
        runtime.metrics.requests.labels(*labels, "agent_step").inc()
        runtime.metrics.tokens.labels(*labels, "prompt").inc(usage.prompt_tokens)
        runtime.metrics.tokens.labels(*labels, "completion").inc(usage.completion_tokens)


def budget_problem(denied: budget.Denied, state: Run) -> problems.Problem:
    detail = (
        f"the tenant's LLM token budget per {denied.window} is exhausted "
        f"({denied.used} of {denied.limit} used) after {len(state.steps)} agent steps; "
        f"retry in {denied.retry_after_seconds}s"
    )
    headers = {"Retry-After": str(denied.retry_after_seconds)}
    return problems.Problem(429, "token-budget-exhausted", "Token budget exhausted", detail, headers=headers)


async def call_tools(toolbox: tools.Toolbox, state: Run, calls: list[Any]) -> list[dict[str, Any]]:
    """Run the step's tool calls in order, append their results to the conversation, and record them."""
    records = []
    for number, call in enumerate(calls):
        call_id, name, arguments = parse_call(call, number)
        if number >= MAX_TOOL_CALLS_PER_STEP:
            outcome = tools.Outcome(error=f"at most {MAX_TOOL_CALLS_PER_STEP} tool calls per step")
        else:
            outcome = await toolbox.call(state.tenant, state.config, name, arguments)
        content = outcome.content()[:MAX_TOOL_RESULT_CHARS]
        state.messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        record = {"id": call_id, "tool": name, "arguments": arguments}
        record.update({"error": outcome.error} if outcome.error is not None else {"result": outcome.result})
        records.append(record)
    return records


def parse_call(call: Any, number: int) -> tuple[str, str, str]:
    """(id, function name, arguments text) of one tool call, whatever the upstream left out."""
    function = call.get("function") if isinstance(call, dict) else None
    function = function if isinstance(function, dict) else {}
    call_id = str(call.get("id") or f"call_{number}") if isinstance(call, dict) else f"call_{number}"
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    return call_id, str(function.get("name") or ""), arguments
