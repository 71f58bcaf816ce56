"""Pieces of the request path computed once: metric label children per (method, route, status), access log
records without a stack walk, the built-in embedding model loaded on first use."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
from datetime import UTC, datetime

import pytest

from neuroedge_runtime import bodies, logs, metrics, problems, settings
from neuroedge_runtime.embeddings import model
from neuroedge_runtime.tenancy import db


def test_request_metrics_reuse_one_label_child_per_route_and_status() -> None:
    m = metrics.Metrics()
    m.request_done("POST", "/engine/predict", 200, 0.002)
    m.request_done("POST", "/engine/predict", 200, 0.004)
    m.request_done("POST", "/engine/predict", 404, 0.001)
    count = m.registry.get_sample_value
    labels = {"method": "POST", "route": "/engine/predict", "status": "200"}
    assert count("neuroedge_http_requests_total", labels) == 2
    assert count("neuroedge_http_requests_total", {**labels, "status": "404"}) == 1
    assert count("neuroedge_http_request_duration_seconds_count", labels) == 2
    assert count("neuroedge_http_request_duration_seconds_sum", labels) == 0.006
    assert len(m._request_children) == 2


def test_emit_writes_one_json_line_with_fields_and_request_id() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("test_hot_path_pieces.access")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    token = logs.request_id.set("rid-7")
    try:
        logs.emit(logger, "%s %s %s", ("GET", "/health", 200), {"status": 200, "route": "/health"})
    finally:
        logs.request_id.reset(token)
    doc = json.loads(out.getvalue())
    assert doc["msg"] == "GET /health 200" and doc["status"] == 200 and doc["route"] == "/health"
    assert doc["request_id"] == "rid-7" and doc["logger"] == "test_hot_path_pieces.access"
    logger.setLevel(logging.WARNING)
    logs.emit(logger, "%s", ("dropped",), {})
    assert out.getvalue().count("\n") == 1  # below the level: nothing written


def test_builtin_model_is_loaded_on_first_encode_only() -> None:
    lazy = model.LazyModel()
    assert not lazy.loaded
    encoded = lazy.encode(["refund my order"])
    assert lazy.loaded and encoded.vectors.shape == (1, model.DIMENSION) and encoded.tokens[0] > 0


def test_event_loop_setting_defaults_to_uvloop_and_refuses_unknown_loops() -> None:
    env = {"DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"}
    assert settings.RuntimeSettings.from_env(env).event_loop == "uvloop"
    assert (
        settings.RuntimeSettings.from_env({**env, "NEUROEDGE_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    )
    with pytest.raises(ValueError, match="NEUROEDGE_EVENT_LOOP must be one of uvloop, asyncio"):
        settings.RuntimeSettings.from_env({**env, "NEUROEDGE_EVENT_LOOP": "trio"})


@pytest.mark.parametrize("name", ["acme'; DROP TABLE x; --", "Acme", "a\\b", "", "x" * 41])
def test_the_tenant_literal_of_begin_is_only_ever_a_dns_label(name: str) -> None:
    with pytest.raises(ValueError, match="not a tenant name"):
        db.begin_sql(name)


def test_begin_sets_the_tenant_for_the_transaction_only() -> None:
    assert db.begin_sql("acme-2") == "BEGIN; SELECT set_config('app.current_tenant', 'acme-2', true)"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a": [1.5, -2, "x"]}', {"a": [1.5, -2, "x"]}),
        (b'{"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}),  # exact
        (b'{"n": 9223372036854775807}', {"n": 9223372036854775807}),
        (b'{"a": 1, "a": 2}', {"a": 2}),
    ],
)
def test_bodies_parse_as_the_standard_library_does(raw: bytes, expected: object) -> None:
    assert bodies._loads(raw) == expected == json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b'{"tenant": "a",', "malformed JSON: Expecting property name enclosed in double quotes"),
        (b'{"tenant": NaN}', "malformed JSON: NaN is not valid JSON"),
        (b'{"a": "\xff"}', "the body is not UTF-8 text"),
        (b"\xff\xfe", "malformed JSON: Expecting value"),  # a UTF-16 byte order mark, then nothing
    ],
)
def test_malformed_bodies_are_named_as_the_standard_library_names_them(raw: bytes, detail: str) -> None:
    with pytest.raises(problems.Problem) as caught:
        bodies._loads(raw)
    assert caught.value.status == 400 and caught.value.detail.startswith(detail)


class CountingStream(io.StringIO):
    """Counts writes: the handler's point is fewer of them."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _record(msg: str) -> logging.LogRecord:
    return logging.LogRecord("x", logging.INFO, "", 0, msg, (), None)


def test_lines_logged_in_one_loop_turn_are_written_together_at_its_end() -> None:
    stream = CountingStream()
    handler = logs.LoopBatchedHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))

    async def turn() -> str:
        for n in range(3):
            handler.emit(_record(f"line {n}"))
        written_during_the_turn = stream.getvalue()
        await asyncio.sleep(0)  # the loop runs the scheduled flush
        return written_during_the_turn

    assert asyncio.run(turn()) == ""
    assert stream.getvalue() == "line 0\nline 1\nline 2\n" and stream.writes == 1


def test_lines_logged_outside_the_loop_are_written_at_once() -> None:
    stream = CountingStream()
    handler = logs.LoopBatchedHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.emit(_record("no loop here"))
    assert stream.getvalue() == "no loop here\n"


def test_log_timestamps_read_as_datetime_writes_them() -> None:
    rng = random.Random(5)
    moments = [0.0, 1.0005, 1.9995, 1_790_000_000.123456, 1_790_000_000.9999996]
    moments += [rng.uniform(1.7e9, 1.8e9) for _ in range(2000)]
    for moment in moments:
        expected = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
        assert logs.timestamp(moment) == expected, moment
