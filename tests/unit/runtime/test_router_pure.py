"""The router's pure decision: best cosine similarity per route, thresholds, ties and the fallback."""

from __future__ import annotations

import numpy as np
import pytest

from neuroedge_runtime.engines import base, router


def config(fallback: str | None = "helpdesk", threshold: float = 0.5) -> router.Config:
    routes = [
        {"name": "a", "engine": "engine-a", "utterances": ["x", "y"], "threshold": threshold},
        {"name": "b", "engine": "engine-b", "utterances": ["z"], "threshold": threshold},
    ]
    return base.parse_config(router.Config, {"routes": routes, "fallback": fallback})


def test_a_routes_score_is_its_best_utterance() -> None:
    utterances = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    scores = router.route_scores(np.array([0.0, 1.0]), utterances, ["a", "a", "b"])
    assert scores == pytest.approx({"a": 0.8, "b": 1.0})


def test_the_best_route_at_its_threshold_is_chosen() -> None:
    assert router.choose(config(), {"a": 0.5, "b": 0.4}) == {
        "route": "a",
        "engine": "engine-a",
        "fallback": False,
        "scores": {"a": 0.5, "b": 0.4},
    }


def test_equal_scores_go_to_the_route_listed_first() -> None:
    assert router.choose(config(), {"a": 0.7, "b": 0.7})["route"] == "a"


def test_below_every_threshold_the_fallback_or_nothing() -> None:
    assert router.choose(config(), {"a": 0.2, "b": 0.3})["engine"] == "helpdesk"
    none = router.choose(config(fallback=None), {"a": 0.2, "b": 0.3})
    assert (none["route"], none["engine"], none["fallback"]) == (None, None, False)


def test_bad_configs_name_the_field() -> None:
    with pytest.raises(base.EngineInputError) as caught:
        base.parse_config(router.Config, {"routes": "[]"})
    assert caught.value.errors[0]["loc"] == ["config", "routes"]
    duplicated = [{"name": "a", "engine": "e", "utterances": ["x"]}] * 2
    with pytest.raises(base.EngineInputError, match="invalid config"):
        base.parse_config(router.Config, {"routes": duplicated})


async def test_utterances_are_embedded_once_per_routes_spec() -> None:
    calls: list[list[str]] = []

    async def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return np.array([[1.0, 0.0] if t in {"x", "y", "hello"} else [0.0, 1.0] for t in texts])

    engine = router.RouterEngine(embed)
    spec = {"routes": [r.model_dump() for r in config().routes], "fallback": "helpdesk"}
    first = await engine(spec, {"text": "hello"})
    await engine(spec, {"text": "again"})
    assert first["route"] == "a"
    assert calls == [["x", "y", "z"], ["hello"], ["again"]]
