"""Parsing a VectorIndex body: defaults as the CRD sets them, and clear messages for what slipped past it."""

from __future__ import annotations

from typing import Any

import pytest

from neuroedge_operator.resources import vectorindex as model


def body(name: str = "docs", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "acme", "uid": "u1", "generation": 3},
        "spec": {"backend": "pgvector", "dimension": 384, **spec},
    }


def test_defaults_match_the_crd() -> None:
    index = model.parse(body())
    spec = index.spec
    assert (index.name, index.namespace, index.generation) == ("docs", "acme", 3)
    assert (spec.distance, spec.hnsw.m, spec.hnsw.ef_construct, spec.on_disk) == ("Cosine", 16, 100, False)
    assert spec.payload_indexes == () and spec.reclaim_policy == "Retain"


def test_full_spec_is_read_with_camel_case_names() -> None:
    spec = model.parse(
        body(
            backend="qdrant",
            dimension=1536,
            distance="Dot",
            hnsw={"m": 32, "efConstruct": 200},
            onDisk=True,
            payloadIndexes=[{"field": "product.sku", "type": "keyword"}],
            reclaimPolicy="Delete",
        )
    ).spec
    assert (spec.backend, spec.dimension, spec.hnsw.m, spec.hnsw.ef_construct, spec.on_disk) == (
        "qdrant",
        1536,
        32,
        200,
        True,
    )
    assert spec.payload_indexes[0].field == "product.sku" and spec.reclaim_policy == "Delete"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (body(name="Docs"), "must be a DNS label"),
        (body(name="d" * 41), "must be a DNS label"),
        (body(dimension=3000), "at most 2000 dimensions"),
        (body(dimension=0), "spec.dimension"),
        (body(distance="Manhattan"), "spec.distance"),
        (body(hnsw={"m": 1}), "spec.hnsw.m"),
        (body(payloadIndexes=[{"field": "a..b", "type": "keyword"}]), "not a payload field"),
        (body(payloadIndexes=[{"field": "x", "type": "geo"}]), "spec.payloadIndexes.0.type"),
        (
            body(payloadIndexes=[{"field": "x", "type": "keyword"}, {"field": "x", "type": "text"}]),
            "each field once",
        ),
    ],
)
def test_invalid_specs_are_refused_with_the_field_named(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(model.InvalidVectorIndexError, match=message):
        model.parse(raw)
