"""Request and response models of the vector endpoints (validated at the edge with pydantic).

Metadata filters are a mapping of payload field -> condition, all of which must hold:
`{"color": "red"}` (equality), `{"price": {"gte": 10, "lt": 20}}` (range), `{"tag": {"in": ["a", "b"]}}`.
Field names are top-level payload keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)

FieldName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
IndexName = Annotated[str, StringConstraints(pattern=r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")]
PointId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Scalar = Annotated[str, StringConstraints(max_length=1024)] | bool | int | float
Vector = Annotated[list[float], Field(min_length=1, max_length=16000)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
"""A point's or a query's text (a chunk: longer documents go through /vector/ingest, which splits them)."""
MAX_POINTS = 1000
TEXT_FIELD = "text"
"""Payload field a point's text is kept in when the point was given as text (search hits show it)."""


def _finite(vector: list[float]) -> list[float]:
    if not all(math.isfinite(x) for x in vector):
        raise ValueError("vector components must be finite numbers")
    return vector


class _HasId(Protocol):
    @property
    def id(self) -> Any: ...


Identified = TypeVar("Identified", bound=_HasId)


def unique_ids(items: list[Identified], message: str) -> list[Identified]:
    """`items` when no two share an id (a validator's check: a repeated id in one request would silently
    overwrite itself, so it is refused with `message`)."""
    if len({item.id for item in items}) != len(items):
        raise ValueError(message)
    return items


class Strict(BaseModel):
    """Unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Range(Strict):
    """A numeric range; at least one bound."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Range:
        bounds = (self.gt, self.gte, self.lt, self.lte)
        if all(b is None for b in bounds):
            raise ValueError("a range needs at least one of gt, gte, lt, lte")
        if not all(b is None or math.isfinite(b) for b in bounds):
            raise ValueError("range bounds must be finite")
        return self


class AnyOf(Strict):
    """Membership: the field equals one of the values."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    values: list[Scalar] = Field(alias="in", min_length=1, max_length=100)


Condition = Scalar | Range | AnyOf


def _one_of(vector: object, text: object, what: str) -> None:
    if (vector is None) == (text is None):
        raise ValueError(f"{what} needs exactly one of vector and text")


class Point(Strict):
    """One point to upsert: its id (unique within the index), a vector or a text (embedded by the index's
    model, and kept in the payload's `text`), and a JSON payload."""

    id: PointId
    vector: Vector | None = None
    text: Text | None = None
    payload: dict[str, JsonValue] = Field(default_factory=dict)

    _check_vector = field_validator("vector")(lambda v: v if v is None else _finite(v))

    @model_validator(mode="after")
    def _vector_or_text(self) -> Point:
        _one_of(self.vector, self.text, "a point")
        return self


@dataclass(frozen=True)
class Record:
    """A point as stored: id, vector and payload."""

    id: str
    vector: list[float]
    payload: dict[str, Any]


class InsertRequest(Strict):
    """Batch upsert into one index."""

    index: IndexName
    points: list[Point] = Field(min_length=1, max_length=MAX_POINTS)

    @field_validator("points")
    @classmethod
    def _unique_ids(cls, points: list[Point]) -> list[Point]:
        return unique_ids(points, "point ids must be unique within a batch")


class SearchParams(Strict):
    """How hard a search looks, with Qdrant's names and meaning. Both backends search an HNSW graph, which
    is approximate: on tightly clustered points (many near-copies of a few texts) the walk can settle in the
    wrong cluster. `hnsw_ef` widens the list of candidates the walk keeps (better recall, slower); `exact`
    compares the query with every point of the tenant (the true nearest neighbours, at the cost of a full
    scan)."""

    hnsw_ef: int | None = Field(default=None, ge=1, le=1000)
    exact: bool = False


class SearchRequest(Strict):
    """Nearest neighbours of `vector` (or of `text`, embedded by the index's model) among the points matching
    `filter`, best first."""

    index: IndexName
    vector: Vector | None = None
    text: Text | None = None
    top_k: int = Field(default=10, ge=1, le=1000)
    filter: dict[FieldName, Condition] = Field(default_factory=dict, max_length=16)
    score_threshold: float | None = Field(default=None, allow_inf_nan=False)
    params: SearchParams | None = None

    _check_vector = field_validator("vector")(lambda v: v if v is None else _finite(v))

    @model_validator(mode="after")
    def _vector_or_text(self) -> SearchRequest:
        _one_of(self.vector, self.text, "a search")
        return self


class DeleteRequest(Strict):
    """Delete points by id, or every point matching a (non-empty) filter."""

    index: IndexName
    ids: list[PointId] | None = Field(default=None, min_length=1, max_length=MAX_POINTS)
    filter: dict[FieldName, Condition] | None = Field(default=None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _ids_or_filter(self) -> DeleteRequest:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("a delete needs exactly one of ids and filter")
        return self


class DeleteResponse(BaseModel):
    """How many points were deleted (with ids: how many of them existed)."""

    index: str
    deleted: int


class FetchRequest(Strict):
    """Points by id; ids that do not exist are left out of the answer."""

    index: IndexName
    ids: list[PointId] = Field(min_length=1, max_length=MAX_POINTS)
    with_vectors: bool = False


class FetchedPoint(BaseModel):
    """A stored point."""

    id: str
    payload: dict[str, Any]
    vector: list[float] | None = None


class FetchResponse(BaseModel):
    """The points found, in the order of the request's ids."""

    index: str
    points: list[FetchedPoint]


class IndexOut(BaseModel):
    """One of the tenant's indexes."""

    name: str
    backend: str
    dimension: int
    distance: str
    points: int | None
    """Points stored; None when the storage is not provisioned (yet)."""
    model: str | None
    """The embedding model that embeds its texts; None: it takes vectors only."""


class IndexList(BaseModel):
    """The tenant's indexes, by name."""

    indexes: list[IndexOut]


class Hit(BaseModel):
    """One search result: higher `score` means more similar, on every backend and distance."""

    id: str
    score: float
    payload: dict[str, Any]


class SearchResponse(BaseModel):
    """Search results, best first."""

    index: str
    hits: list[Hit]


class InsertResponse(BaseModel):
    """How many points were upserted."""

    index: str
    upserted: int
