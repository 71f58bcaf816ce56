"""JSON log lines carry the request id of the request being handled."""

from __future__ import annotations

import json
import logging

from neuroedge_runtime import logs


def test_json_formatter_adds_request_id_and_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.fields = {"status": 200}
    token = logs.request_id.set("rid-1")
    try:
        doc = json.loads(logs.JsonFormatter().format(record))
    finally:
        logs.request_id.reset(token)
    assert doc["msg"] == "hello world" and doc["request_id"] == "rid-1" and doc["status"] == 200
    assert doc["level"] == "info" and doc["ts"].endswith("+00:00")
    assert "request_id" not in json.loads(logs.JsonFormatter().format(record))
