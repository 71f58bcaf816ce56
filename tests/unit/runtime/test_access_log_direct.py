"""`logs.emit` (the access log line) hands the formatted line straight to the handler when the configuration
is `logs.configure`'s, and writes the same line `logging` would; any other configuration goes through
`logging` as usual and gets everything logging promises (filters, other handlers and formatters, levels)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from neuroedge_runtime import logs

FIELDS = {"method": "POST", "path": "/engine/predict", "route": "/engine/predict", "status": 200}


class Tree:
    """An isolated logger hierarchy shaped as `logs.configure` leaves the process's: one LoopBatchedHandler
    with JsonFormatter on the root (pytest's own handlers sit on the real root logger)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logs.LoopBatchedHandler(self.stream)
        self.handler.setFormatter(logs.JsonFormatter())
        self.root = logging.RootLogger(logging.INFO)
        self.root.addHandler(self.handler)
        self.logger = logging.Manager(self.root).getLogger("neuroedge_runtime.access")
        self.records = 0
        make = self.logger.makeRecord

        def counted(*args: object, **kwargs: object) -> logging.LogRecord:
            self.records += 1
            return make(*args, **kwargs)  # type: ignore[arg-type]

        self.logger.makeRecord = counted  # type: ignore[method-assign]

    def emit(self, msg: str = "%s %s %s", args: tuple[object, ...] = ("POST", "/p", 200)) -> None:
        logs.emit(self.logger, msg, args, dict(FIELDS))

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


@pytest.fixture
def tree() -> Iterator[Tree]:
    yield Tree()


def _without_time(line: str) -> dict[str, object]:
    doc = json.loads(line)
    assert isinstance(doc.pop("ts"), str)
    return doc  # type: ignore[no-any-return]


def test_the_direct_line_is_the_line_logging_writes(tree: Tree) -> None:
    token = logs.request_id.set("abc123")
    try:
        tree.emit()  # direct
        tree.logger.addFilter(lambda record: True)  # now through logging
        tree.emit()
    finally:
        logs.request_id.reset(token)
    direct, through_logging = tree.lines()
    assert tree.records == 1  # only the second made a LogRecord
    assert _without_time(direct) == _without_time(through_logging)
    assert _without_time(direct) == {
        "level": "info",
        "logger": "neuroedge_runtime.access",
        "msg": "POST /p 200",
        "request_id": "abc123",
        **FIELDS,
    }
    assert list(json.loads(direct)) == list(json.loads(through_logging))  # the same key order too


def test_a_direct_line_waits_for_the_end_of_the_loop_turn_like_any_other(tree: Tree) -> None:
    async def turn() -> list[str]:
        tree.emit()
        tree.emit()
        during = tree.lines()
        await asyncio.sleep(0)
        return during

    assert asyncio.run(turn()) == []
    assert len(tree.lines()) == 2 and tree.records == 0


def test_a_filter_on_the_access_logger_sees_and_can_drop_every_line(tree: Tree) -> None:
    seen: list[str] = []

    def drop(record: logging.LogRecord) -> bool:
        seen.append(record.getMessage())
        return False

    tree.logger.addFilter(drop)
    tree.emit()
    assert seen == ["POST /p 200"] and tree.lines() == []


def test_another_handler_gets_the_record_and_the_json_handler_still_writes(tree: Tree) -> None:
    other = io.StringIO()
    extra = logging.StreamHandler(other)
    extra.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    tree.logger.addHandler(extra)
    tree.emit()
    assert other.getvalue() == "INFO POST /p 200\n"
    assert _without_time(tree.lines()[0])["msg"] == "POST /p 200"


def test_another_formatter_on_the_root_handler_is_used(tree: Tree) -> None:
    tree.handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    tree.emit()
    assert tree.lines() == ["neuroedge_runtime.access: POST /p 200"]


@pytest.mark.parametrize("where", ["logger", "handler"])
def test_a_level_above_info_silences_the_line(tree: Tree, where: str) -> None:
    (tree.logger if where == "logger" else tree.handler).setLevel(logging.WARNING)
    tree.emit()
    assert tree.lines() == []


def test_a_disabled_logger_writes_nothing(tree: Tree) -> None:
    tree.logger.disabled = True
    tree.emit()
    assert tree.lines() == []


def test_a_message_that_does_not_format_is_reported_by_logging_not_raised(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(tree.handler, "handleError", reported.append)
    tree.emit("%s %s %s", ("only one",))
    assert tree.lines() == [] and len(reported) == 1 and tree.records == 1
