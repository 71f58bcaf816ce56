"""The Engine registry row: SQL shape, canonical config JSON, and "write only on difference"."""

from __future__ import annotations

import json

from neuroedge_operator.builders import engine_registry
from neuroedge_operator.clients import queues
from neuroedge_queue import figures


def test_upsert_args_carry_canonical_json() -> None:
    args = engine_registry.upsert_args("acme", "e", "agent", {"b": "2", "a": "1"})
    assert args == ("acme", "e", "agent", '{"a":"1","b":"2"}', None)
    assert json.loads(args[3]) == {"a": "1", "b": "2"}
    model = {"uri": "pvc://m/x.onnx", "format": "onnx", "batching": {"maxBatchSize": 8}}
    with_model = engine_registry.upsert_args("acme", "e", "predictive", {}, model)
    assert with_model[4] == '{"batching":{"maxBatchSize":8},"format":"onnx","uri":"pvc://m/x.onnx"}'


def test_upsert_touches_only_a_differing_row() -> None:
    statement = engine_registry.upsert_sql()
    assert statement.startswith(
        'INSERT INTO "neuroedge"."engines" AS e (tenant_id, name, kind, config, model)'
    )
    assert "ON CONFLICT (tenant_id, name) DO UPDATE" in statement
    assert (
        "WHERE e.kind IS DISTINCT FROM EXCLUDED.kind OR e.config IS DISTINCT FROM EXCLUDED.config "
        "OR e.model IS DISTINCT FROM EXCLUDED.model" in statement
    )
    assert engine_registry.delete_sql().endswith("WHERE tenant_id = $1 AND name = $2")


def test_up_to_date_compares_content_not_text() -> None:
    stored = ("agent", '{"b": "2", "a": "1"}', None)  # jsonb text has its own spacing and order
    assert engine_registry.up_to_date(stored, "agent", {"a": "1", "b": "2"})
    assert not engine_registry.up_to_date(stored, "agent", {"a": "1", "b": "2"}, {"uri": "pvc://m/x"})
    with_model = ("predictive", "{}", '{"uri": "pvc://m/x", "format": "onnx"}')
    assert engine_registry.up_to_date(with_model, "predictive", {}, {"format": "onnx", "uri": "pvc://m/x"})
    assert not engine_registry.up_to_date(
        with_model, "predictive", {}, {"format": "onnx", "uri": "pvc://m/y"}
    )
    assert not engine_registry.up_to_date(with_model, "predictive", {})
    assert not engine_registry.up_to_date(stored, "predictive", {"a": "1", "b": "2"})
    assert not engine_registry.up_to_date(stored, "agent", {"a": "1"})
    assert not engine_registry.up_to_date(None, "agent", {})


def test_queue_figures_in_status_terms() -> None:
    found = figures.QueueFigures(waiting=40, pending=3, delayed=2, dead=1, lag_seconds=9.5)
    status = queues.as_status(found)
    assert (status.length, status.lag, status.pending, status.dead_lettered) == (43, 40, 3, 1)
