"""`bodies.json_document` writes the bytes pydantic writes for `EngineResponse` (the engine routes' declared
response model), value kind by value kind, and refuses what pydantic refuses."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Any

import pytest

from neuroedge_runtime import bodies
from neuroedge_runtime.views.data import EngineResponse


class Colour(enum.Enum):
    RED = "red"


VALUES: list[Any] = [
    1.0,
    0.1,
    1e16,
    1e-7,
    -0.0,
    5e-324,
    1.0000000000000002,
    float("nan"),
    float("inf"),
    float("-inf"),
    2**63,
    -(2**63),
    2**64 + 1,  # beyond what orjson writes
    -(2**70),
    "plain",
    'é \u2028 \x00 \\ "quoted"',
    None,
    True,
    [1, 2.5, "x"],
    {"nested": {"list": [1.5, None]}},
    (1, 2),
    {3},
    b"bytes",
    datetime.datetime(2026, 1, 1, 12, 30, tzinfo=datetime.UTC),
    datetime.datetime(2026, 1, 1, 12, 30, 0, 123456),
    datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    datetime.date(2026, 1, 1),
    datetime.time(12, 30),
    uuid.UUID(int=5),
    Colour.RED,
    decimal.Decimal("1.10"),
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_the_same_bytes_as_the_declared_model(value: Any) -> None:
    document = {"engine": "score", "result": {"value": value, "kind": type(value).__name__}}
    expected = EngineResponse(**document).model_dump_json(by_alias=True).encode()
    response = bodies.json_document(document)
    assert response.body == expected
    assert response.content_type == "application/json"
    assert response.status == 200


def test_what_pydantic_cannot_write_is_refused_too() -> None:
    class Opaque:
        pass

    document = {"engine": "score", "result": {"value": Opaque()}}
    with pytest.raises(Exception, match="Opaque"):
        EngineResponse(**document).model_dump_json()
    with pytest.raises(Exception, match="Opaque"):
        bodies.json_document(document)
