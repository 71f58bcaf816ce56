"""The engines' pure computations: each kind computes from its config and input, rejects bad ones clearly."""

from __future__ import annotations

import math
import statistics

import pytest

from neuroedge_runtime.engines import agent, analytics, base, conversation, predictive
from neuroedge_runtime.engines.catalog import default_kinds


def test_catalog_has_one_engine_of_each_kind_with_its_operation() -> None:
    kinds = default_kinds()
    assert {k: e.operation for k, e in kinds.items()} == {
        "predictive": base.Operation.PREDICT,
        "agent": base.Operation.PREDICT,
        "conversation": base.Operation.PREDICT,
        "analytics": base.Operation.ANALYZE,
    }


def test_linear_model() -> None:
    config = predictive.Config(weights={"a": 2.0, "b": -1.0}, bias=0.5)
    result = predictive.predict(config, predictive.Inputs(features={"a": 3, "b": 4}))
    assert result["score"] == 2.5 and result["contributions"] == {"a": 6.0, "b": -4.0}
    reordered = predictive.predict(config, predictive.Inputs(features={"b": 4, "a": 3}))
    assert reordered == result  # features match by name, in any order


def test_logistic_model_is_stable_for_extreme_scores() -> None:
    config = predictive.Config(model="logistic", weights={"a": 1.0}, threshold=0.9, labels=("no", "yes"))
    assert predictive.predict(config, predictive.Inputs(features={"a": -1000}))["score"] == 0.0
    high = predictive.predict(config, predictive.Inputs(features={"a": 1000}))
    assert high["score"] == 1.0 and high["label"] == "yes"
    mid = predictive.predict(config, predictive.Inputs(features={"a": 1.0}))
    assert mid["score"] == pytest.approx(1 / (1 + math.exp(-1))) and mid["label"] == "no"


def test_predictive_rejects_mismatched_features() -> None:
    config = predictive.Config(weights={"a": 1.0})
    with pytest.raises(base.EngineInputError) as caught:
        predictive.predict(config, predictive.Inputs(features={"b": 1.0}))
    assert {tuple(e["loc"]) for e in caught.value.errors} == {
        ("input", "features", "a"),
        ("input", "features", "b"),
    }
    with pytest.raises(base.EngineInputError, match="invalid config"):
        base.parse(predictive.Config, {"weights": {}}, "config")


def test_analytics_matches_the_statistics_module() -> None:
    series = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0, 100.0]
    result = analytics.describe(
        analytics.Config(percentiles=[25, 50, 75], outlier_z=2.0), analytics.Inputs(series=series)
    )
    assert result["mean"] == pytest.approx(statistics.fmean(series))
    assert result["stdev"] == pytest.approx(statistics.stdev(series))
    quartiles = statistics.quantiles(series, n=4, method="inclusive")
    assert [result["percentiles"][k] for k in ("p25", "p50", "p75")] == pytest.approx(quartiles)
    assert result["outliers"] == [8]


def test_trend_of_a_line_is_exact() -> None:
    fit = analytics.trend([1.0 + 3.0 * i for i in range(10)])
    assert fit["slope"] == pytest.approx(3.0) and fit["intercept"] == pytest.approx(1.0)
    assert fit["r2"] == pytest.approx(1.0)
    single = analytics.describe(analytics.Config(), analytics.Inputs(series=[4.0]))
    assert single["stdev"] == 0.0 and single["trend"]["slope"] == 0.0


@pytest.mark.parametrize(
    ("expression", "value"), [("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9.0), ("2 ^ 10", 1024.0), ("-4 / 8", -0.5)]
)
def test_calculator(expression: str, value: float) -> None:
    assert agent.calculate(expression) == value


@pytest.mark.parametrize(
    "expression", ["__import__('os')", "a + 1", "(1).real", "[1, 2]", "9 ** 9 ** 9", "1 / 0", "f(1)"]
)
def test_calculator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(agent.ToolError):
        agent.calculate(expression)


def test_agent_plans_steps_with_tools_and_chains_results() -> None:
    config = agent.Config(facts={"speed of light": "299792458 m/s"})
    result = agent.run(
        config,
        agent.Inputs(
            task='compute 6 * 7; then result - 2 then count the words in "a b c" '
            "then what is the speed of light"
        ),
    )
    assert [(s["tool"], s["output"]) for s in result["steps"]] == [
        ("calculator", 42.0),
        ("calculator", 40.0),
        ("word_count", 3),
        ("lookup", "299792458 m/s"),
    ]
    assert agent.run(config, agent.Inputs(task="convert 100 c to f"))["answer"] == pytest.approx(212.0)


def test_agent_errors_are_specific() -> None:
    with pytest.raises(base.EngineInputError, match="no tool"):
        agent.run(agent.Config(), agent.Inputs(task="write a poem"))
    with pytest.raises(base.EngineInputError, match="not enabled"):
        agent.run(agent.Config(tools=["lookup"]), agent.Inputs(task="1 + 1"))
    with pytest.raises(base.EngineInputError, match="at most 2"):
        agent.run(agent.Config(max_steps=2), agent.Inputs(task="1+1 then 2+2 then 3+3"))
    with pytest.raises(base.EngineInputError, match="before any numeric result"):
        agent.run(agent.Config(), agent.Inputs(task="result * 2"))


def test_conversation_ranks_documents_and_falls_back() -> None:
    config = conversation.Config(
        documents=[
            conversation.Document(id="pay", text="We accept cards. Invoices are due in 30 days."),
            conversation.Document(id="ship", text="Parcels ship daily. Tracking links arrive by email."),
        ],
        fallback="no idea",
    )
    answer = conversation.respond(config, conversation.Inputs(message="When are invoices due?"))
    assert answer["reply"] == "Invoices are due in 30 days." and answer["sources"][0]["id"] == "pay"
    assert conversation.respond(config, conversation.Inputs(message="zebra"))["reply"] == "no idea"
    assert conversation.respond(config, conversation.Inputs(message="Hello!"))["intent"] == "greeting"


def test_conversation_history_is_trimmed() -> None:
    config = conversation.Config(documents=[conversation.Document(id="a", text="x")], max_history=4)
    history = [conversation.Turn(role="user", content=f"m{i}") for i in range(6)]
    result = conversation.respond(config, conversation.Inputs(message="hi there friend", history=history))
    assert len(result["history"]) == 4 and result["history"][-2]["content"] == "hi there friend"
