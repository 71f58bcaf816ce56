"""The LLM agent's pure parts: its config, tool definitions, step choices, call parsing, prompt estimate,
and the toolbox's refusals that come before any lookup."""

from __future__ import annotations

import json
from typing import Any

import pytest

from neuroedge_runtime.agents import loop, spec, tools
from neuroedge_runtime.engines import base
from neuroedge_runtime.llm import budget
from neuroedge_runtime.llm import config as llm_config

LLM = json.dumps({"baseURL": "http://127.0.0.1:1/v1", "model": "m"})


def config(**fields: Any) -> spec.AgentConfig:
    return base.parse_config(spec.AgentConfig, {"llm": LLM, **fields})


def test_tool_definitions_name_only_the_agents_engines_and_indexes() -> None:
    definitions = spec.tool_definitions(config(engines='["scorer", "router-a"]', indexes='["kb"]'))
    by_name = {d["function"]["name"]: d["function"]["parameters"] for d in definitions}
    assert set(by_name) == {"calculator", "predict", "vector_search", "route"}
    assert by_name["predict"]["properties"]["engine"]["enum"] == ["scorer", "router-a"]
    assert by_name["vector_search"]["properties"]["index"]["enum"] == ["kb"]
    assert all(p["additionalProperties"] is False for p in by_name.values())


def test_tools_without_targets_are_left_out_and_none_left_is_an_error() -> None:
    assert config().tools == ["calculator"]
    with pytest.raises(base.EngineInputError) as caught:
        config(tools='["predict"]')
    assert "predict and route need `engines`" in str(caught.value.errors)


def test_bad_settings_name_the_field() -> None:
    with pytest.raises(base.EngineInputError) as caught:
        config(max_steps="0", engines='["Not A Name"]')
    locs = {tuple(e["loc"]) for e in caught.value.errors}
    assert ("config", "max_steps") in locs and ("config", "engines", 0) in locs


def test_the_first_step_uses_the_configured_choice_and_the_last_answers() -> None:
    settings = config(tool_choice="required", max_steps="3")
    assert [loop.tool_choice(n, settings) for n in (1, 2, 3)] == ["required", "auto", "none"]
    assert loop.tool_choice(1, config(max_steps="1")) == "none"


def test_calls_are_parsed_whatever_the_upstream_left_out() -> None:
    assert loop.parse_call({"id": "c1", "function": {"name": "calculator", "arguments": '{"a": 1}'}}, 0) == (
        "c1",
        "calculator",
        '{"a": 1}',
    )
    assert loop.parse_call({"function": {"name": "x", "arguments": {"a": 1}}}, 2) == (
        "call_2",
        "x",
        '{"a": 1}',
    )
    assert loop.parse_call("junk", 1) == ("call_1", "", "{}")


def run_state(**fields: Any) -> loop.Run:
    settings = config(**fields)
    llm = llm_config.LLMConfig.model_validate(json.loads(LLM))
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "task"}]
    return loop.Run("t", "agent", settings, llm, budget.Limits(None, None), messages)


def test_the_prompt_estimate_never_falls_below_the_last_real_prompt() -> None:
    state = run_state()
    definitions = spec.tool_definitions(state.config)
    first = loop.estimate_prompt(state, definitions)
    state.last_prompt = (len(state.messages), first * 3)
    state.messages.append({"role": "tool", "tool_call_id": "c", "content": "42"})
    assert loop.estimate_prompt(state, definitions) > first * 3


def test_max_tokens_is_bounded_by_what_is_left_of_the_run_budget() -> None:
    state = run_state(token_budget="600")
    planned = loop.request_body(state, spec.tool_definitions(state.config), "auto")
    assert planned is not None
    body, prompt = planned
    assert body["max_tokens"] == min(512, 600 - prompt)
    state.prompt_tokens = 600
    assert loop.request_body(state, spec.tool_definitions(state.config), "auto") is None


async def test_the_toolbox_refuses_names_outside_its_lists_before_any_lookup() -> None:
    box = tools.Toolbox(engines=None, vectors=None)  # a lookup would answer "not available"
    settings = config(engines='["scorer"]', indexes='["kb"]')
    refused = await box.call("t", settings, "predict", '{"engine": "elsewhere", "input": {}}')
    assert refused.error is not None and "not one of this agent's engines" in refused.error
    refused = await box.call("t", settings, "vector_search", '{"index": "other", "query": "q"}')
    assert refused.error is not None and "not one of this agent's indexes" in refused.error
    unknown = await box.call("t", settings, "shell", "{}")
    assert unknown.error is not None and "no tool named 'shell'" in unknown.error
    bad = await box.call("t", settings, "calculator", "not json")
    assert bad.error == "the arguments are not valid JSON"
    assert (await box.call("t", settings, "calculator", '{"expression": "2 ^ 10"}')).result == 1024.0
    assert json.loads(unknown.content()) == {"error": unknown.error}
