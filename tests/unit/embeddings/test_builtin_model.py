"""The built-in model loads offline from the wheel and embeds meaningfully; truncation keeps unit length."""

from __future__ import annotations

import numpy as np
import pytest

from neuroedge_runtime.embeddings import model


@pytest.fixture(scope="module")
def builtin() -> model.BuiltinModel:
    return model.BuiltinModel()


def test_unit_vectors_and_token_counts(builtin: model.BuiltinModel) -> None:
    encoded = builtin.encode(["hello world", "the cat sat on the mat", ""])
    assert encoded.vectors.shape == (3, model.DIMENSION)
    assert np.allclose(np.linalg.norm(encoded.vectors[:2], axis=1), 1.0, atol=1e-5)
    assert not encoded.vectors[2].any()  # an empty text embeds to zero, never NaN
    assert encoded.tokens[0] == 2 and encoded.tokens[1] >= 6 and encoded.tokens[2] == 0


def test_order_is_kept_whatever_the_lengths(builtin: model.BuiltinModel) -> None:
    texts = [("refund " * (i % 7 + 1)) + f"order {i}" for i in range(150)]
    together = builtin.encode(texts).vectors
    alone = np.vstack([builtin.encode([t]).vectors for t in texts[:5]])
    assert np.allclose(together[:5], alone, atol=1e-5)


def test_similar_texts_score_higher(builtin: model.BuiltinModel) -> None:
    v = builtin.encode(["how do I get my money back", "refund policy for returns", "the weather is sunny"])
    assert float(v.vectors[0] @ v.vectors[1]) > float(v.vectors[0] @ v.vectors[2])


def test_truncation_renormalises() -> None:
    vectors = model.normalise(np.arange(1, 13, dtype=np.float32).reshape(2, 6))
    short = model.truncate(vectors, 3)
    assert short.shape == (2, 3) and np.allclose(np.linalg.norm(short, axis=1), 1.0)
    assert model.truncate(vectors, 6) is vectors
