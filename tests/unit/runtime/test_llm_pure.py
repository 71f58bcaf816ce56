"""Pure parts of the LLM gateway: SSE splitting, request shaping, budget windows, memory bounds, configs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pydantic
import pytest

from neuroedge_runtime.llm import budget, chat, config, gateway, memory, retrieval, sse
from neuroedge_runtime.views import llm as llm_views


def test_events_are_split_as_they_complete_whatever_the_chunking() -> None:
    stream = b'data: {"a":1}\n\ndata: {"b":2}\r\n\r\n: comment\n\ndata: [DONE]\n\n'
    for size in (1, 3, 7, len(stream)):
        splitter = sse.EventSplitter()
        events = [e for i in range(0, len(stream), size) for e in splitter.feed(stream[i : i + size])]
        assert [sse.data_of(e) for e in events] == [b'{"a":1}', b'{"b":2}', None, b"[DONE]"]
        assert splitter.rest() == b""


def test_stream_state_reads_text_usage_and_done() -> None:
    state = sse.StreamState()
    state.observe(b'{"choices":[{"delta":{"role":"assistant","content":""}}]}')
    state.observe(b'{"choices":[{"delta":{"content":"Hel"}}]}')
    state.observe(b'{"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}')
    last = state.observe(
        b'{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}'
    )
    state.observe(b"[DONE]")
    assert "".join(state.text) == "Hello" and state.content_chunks == 2
    assert state.usage == sse.Usage(9, 2) and state.usage.total_tokens == 11
    assert sse.is_usage_only(last) and state.done


def test_stream_state_skips_malformed_choices_without_failing() -> None:
    """An upstream's odd chunks (choices not a list, a choice or delta not an object) are relayed as they
    are; only well-formed deltas count as text."""
    state = sse.StreamState()
    for payload in (
        b'{"choices":"x"}',
        b'{"choices":[3,{"delta":"y"},{"delta":{"content":7}}]}',
        b"[1,2]",
        b'{"choices":[{"delta":{"content":"ok"}}]}',
    ):
        assert state.observe(payload) is not None
    assert state.text == ["ok"] and state.content_chunks == 1


def test_upstream_body_keeps_unknown_fields_and_forces_a_usage_chunk_for_streams() -> None:
    raw = {"model": "chat", "messages": [], "stream": True, "tools": [{"x": 1}], "seed": 3}
    messages = [{"role": "user", "content": "hi"}]
    body = chat.upstream_body(raw, messages, "upstream-model", 50, 0.2)
    assert body["model"] == "upstream-model" and body["messages"] == messages
    assert body["tools"] == [{"x": 1}] and body["seed"] == 3
    assert body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 50 and body["temperature"] == 0.2
    assert "temperature" not in chat.upstream_body({**raw, "stream": False}, messages, "m", 5, None)
    assert chat.upstream_body({**raw, "temperature": 1.0}, messages, "m", 5, 0.2)["temperature"] == 1.0


def test_max_tokens_never_exceeds_the_engines() -> None:
    assert chat.completion_limit(None, 512) == 512
    assert chat.completion_limit(10, 512) == 10
    assert chat.completion_limit(10_000, 512) == 512


def test_the_prompt_estimate_grows_with_the_messages() -> None:
    short = chat.estimate_prompt_tokens([{"role": "user", "content": "hi"}])
    long = chat.estimate_prompt_tokens([{"role": "user", "content": "hi " * 300}])
    assert 0 < short < long and long >= 300


def test_budget_windows_and_their_resets() -> None:
    now = datetime(2026, 11, 29, 23, 59, 30, 500_000, tzinfo=UTC)
    minute, day = budget.window_keys("acme", now)
    assert minute == "llm:{acme.llm}:tokens:m:202611292359"
    assert day == "llm:{acme.llm}:tokens:d:20261129"
    assert budget.seconds_to_reset(now) == (30, 30)
    assert budget.seconds_to_reset(datetime(2026, 1, 1, tzinfo=UTC)) == (60, 86400)


def test_memory_keeps_the_newest_turns_within_the_token_bound() -> None:
    history = [{"role": "user", "content": "x" * 300}, {"role": "tool", "content": "r"}]
    history += [{"role": "user", "content": f"m{i}"} for i in range(5)]
    kept = memory.within_tokens(history, max_tokens=75)
    assert kept == history[2:]
    assert memory.within_tokens(history[1:], 10_000)[0]["role"] == "user", "never starts on a tool result"
    assert memory.key("acme", "c1") == "llm:{acme.llm}:conv:c1"


def test_llm_config_from_the_registry_row() -> None:
    raw = {
        "baseURL": "http://a:8080/v1",
        "model": "m",
        "apiKey": "sk-secret",
        "fallbacks": [{"baseURL": "http://b/v1", "model": "n"}],
    }
    parsed = config.from_engine("conversation", {"llm": json.dumps(raw)})
    upstreams = parsed.upstreams()
    assert [u.url("/chat/completions") for u in upstreams] == [
        "http://a:8080/v1/chat/completions",
        "http://b/v1/chat/completions",
    ]
    assert upstreams[0].api_key == "sk-secret" and upstreams[1].api_key is None
    assert parsed.timeout_seconds == 60 and parsed.max_tokens == 512
    assert "sk-secret" not in repr(parsed)
    for kind, cfg in (("predictive", {"llm": "{}"}), ("agent", {}), ("agent", {"llm": "{"})):
        with pytest.raises(config.NotAnLLMEngine):
            config.from_engine(kind, cfg)


def test_retrieval_settings_query_and_augmented_prompt() -> None:
    assert retrieval.settings_of({}) is None
    assert retrieval.settings_of({"vectorIndex": "kb", "topK": "3"}) == retrieval.Settings("kb", 3)
    assert retrieval.settings_of({"vectorIndex": "kb", "topK": "x"}) == retrieval.Settings("kb", 4)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "old"},
        {"role": "assistant", "content": "a"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "How do I"}, {"type": "text", "text": "reset?"}],
        },
    ]
    assert retrieval.last_user_text(messages) == "How do I reset?"
    passages = [retrieval.Passage("reset-password", "Open Settings.", 0.91234567)]
    augmented = retrieval.augment(messages, passages)
    assert augmented[0] == messages[0] and augmented[2:] == messages[1:]
    assert augmented[1]["role"] == "system" and "[reset-password] Open Settings." in augmented[1]["content"]
    assert retrieval.augment(messages, []) == messages
    assert retrieval.sources(passages) == [{"id": "reset-password", "score": 0.912346}]


def test_budget_denials_say_when_to_retry_or_that_waiting_cannot_help() -> None:
    exhausted = gateway.budget_error(budget.Denied("minute", 400, 300, 17), 150)
    assert exhausted.status == 429 and exhausted.headers == {"Retry-After": "17"}
    assert exhausted.code == "token_budget_exhausted" and "100 of 400 are left" in exhausted.message
    too_big = gateway.budget_error(budget.Denied("day", 400, 0, 3600), 401)
    assert too_big.status == 400 and too_big.param == "max_tokens" and not too_big.headers


def test_streamed_chunks_are_renamed_to_the_engine_and_other_events_pass_unchanged() -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "/models/tiny.gguf", "choices": []}
    event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
    renamed = sse.renamed(event, chunk, "support")
    assert renamed.endswith(b"\n\n") and json.loads(renamed[6:]) == {**chunk, "model": "support"}
    assert sse.renamed(b"data: [DONE]\n\n", None, "support") == b"data: [DONE]\n\n"
    with_id = b"id: 7\n" + event
    assert sse.renamed(with_id, chunk, "support") == with_id


def test_a_first_delta_without_role_is_given_the_assistant_role_once() -> None:
    """llama-server sends no role chunk when its first token is an incomplete UTF-8 character: the gateway
    gives the first delta the role OpenAI's streams always start with, and leaves every other chunk alone."""
    state = sse.StreamState()

    def chunk(delta: dict[str, str]) -> bytes:
        body = {"model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    first, second = chunk({"content": "\u0261"}), chunk({"content": "x"})
    obj = state.observe(sse.data_of(first) or b"")
    relayed = json.loads(sse.renamed(first, obj, "m", state.missing_role)[6:])
    assert relayed["choices"][0]["delta"] == {"role": "assistant", "content": "\u0261"}
    obj = state.observe(sse.data_of(second) or b"")
    assert not state.missing_role and sse.renamed(second, obj, "m", state.missing_role) == second
    announced = sse.StreamState()
    announced.observe(sse.data_of(chunk({"role": "assistant", "content": ""})) or b"")
    assert not announced.missing_role


def test_usage_days_are_iso_dates_only() -> None:
    query = llm_views.UsageQuery.model_validate({"from": "2026-11-01", "to": "2026-11-30"})
    assert (query.start, query.end) == (date(2026, 11, 1), date(2026, 11, 30))
    for bad in ("0.0", "0", "1764460800", "20261130", "2026-11-30T00:00:00", ""):
        with pytest.raises(pydantic.ValidationError):
            llm_views.UsageQuery.model_validate({"to": bad})
