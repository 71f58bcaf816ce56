"""The conversation engine answering from a VectorIndex: passages fill the template, sources name documents,
short follow-ups keep their topic, and a config names exactly one source of passages."""

from __future__ import annotations

from typing import Any

import pytest

from neuroedge_runtime.engines import base, context, conversation
from neuroedge_runtime.engines.retrieval import Passage

PASSAGES = [
    Passage("refunds#0", "Refunds take five days. They go back to your card.", 0.82, "refunds"),
    Passage("shipping#1", "Parcels ship from Rotterdam.", 0.41, "shipping"),
]


class Recorder:
    """A retriever returning fixed passages and recording its calls (pure)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str, int]] = []

    async def retrieve(self, tenant: str, index: str, query: str, top_k: int) -> list[Passage]:
        self.calls.append((tenant, index, query, top_k))
        return PASSAGES


CONFIG: dict[str, Any] = {"vectorIndex": "kb", "answer_template": "{answer} [{source}]", "min_score": "0.5"}


async def test_answers_from_the_index_for_the_callers_tenant() -> None:
    recorder = Recorder()
    engine = conversation.ConversationEngine(recorder)
    token = context.TENANT.set("acme")
    try:
        result = await engine(CONFIG, {"message": "how long do refunds take?"})
        follow = await engine(
            CONFIG,
            {"message": "and to my card?", "history": [{"role": "user", "content": "refund timing please"}]},
        )
    finally:
        context.TENANT.reset(token)
    assert result["reply"] == "Refunds take five days. [refunds]" and result["intent"] == "answer"
    assert result["sources"] == [{"id": "refunds", "score": 0.82}, {"id": "shipping", "score": 0.41}]
    assert recorder.calls[0] == ("acme", "kb", "how long do refunds take?", 3)
    assert recorder.calls[1][2] == "refund timing please and to my card?"  # a short follow-up keeps its topic
    assert follow["reply"] == "They go back to your card. [refunds]"


async def test_below_min_score_falls_back() -> None:
    engine = conversation.ConversationEngine(Recorder())
    token = context.TENANT.set("acme")
    try:
        result = await engine({**CONFIG, "min_score": "0.9"}, {"message": "refunds?"})
    finally:
        context.TENANT.reset(token)
    assert result["intent"] == "fallback"


async def test_without_a_retriever_or_tenant_it_says_so() -> None:
    with pytest.raises(base.EngineInputError, match="vectorIndex"):
        await conversation.ConversationEngine()(CONFIG, {"message": "hi there friend"})
    with pytest.raises(RuntimeError, match="no tenant"):
        await conversation.ConversationEngine(Recorder())(CONFIG, {"message": "refunds?"})


@pytest.mark.parametrize(
    "config",
    [{}, {"vectorIndex": "kb", "documents": [{"id": "a", "text": "b"}]}, {"vectorIndex": "Not_A_Name"}],
)
def test_exactly_one_source_of_passages(config: dict[str, Any]) -> None:
    with pytest.raises(base.EngineInputError):
        base.parse_config(conversation.Config, config)
