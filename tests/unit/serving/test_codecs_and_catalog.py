"""Embedding codecs round-trip, and the model listing merges its sources (first source wins on an id)."""

from __future__ import annotations

import numpy as np

from neuroedge_runtime.embeddings import codecs
from neuroedge_runtime.serving import models_catalog
from neuroedge_runtime.serving.models_catalog import ModelCard


def test_base64_round_trip_is_exact_float32() -> None:
    vectors = np.array([[0.1, -2.5, 3.0], [1e-8, 0.0, -0.0]], dtype=np.float32)
    encoded = codecs.encode_rows(vectors, "base64")
    assert all(isinstance(row, str) for row in encoded)
    decoded = np.array([codecs.decode_base64(str(row)) for row in encoded], dtype=np.float32)
    assert np.array_equal(decoded, vectors)
    assert codecs.encode_rows(vectors, "float") == vectors.astype(np.float64).tolist()


async def test_gather_merges_sources_in_order() -> None:
    async def llms(tenant: str) -> list[ModelCard]:
        return [
            ModelCard(id=f"{tenant}-chat", created=1, owned_by=tenant),
            ModelCard(id="wordllama-256", created=2, owned_by="x"),
        ]

    cards = await models_catalog.gather([models_catalog.builtin_models, llms], "acme")
    assert [c.id for c in cards] == ["wordllama-256", "acme-chat"]
    assert cards[0].owned_by == "neuroedge"
