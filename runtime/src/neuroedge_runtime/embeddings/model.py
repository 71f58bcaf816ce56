"""The built-in embedding model `wordllama-256`: WordLlama's 256-dimensional `l2_supercat` weights, shipped in
the `wordllama` wheel, so the runtime embeds text with no network and no GPU.

It is loaded from the package with downloads disabled (a missing file is an error at start-up, never a
download). WordLlama looks for its tokenizer config under `<cache_dir>/tokenizers`, which is where the wheel
puts it only when `cache_dir` is the package directory itself, hence that argument.

Vectors are L2-normalised (cosine similarity is then a dot product). The model was trained with Matryoshka
representation learning, so a prefix of a vector is itself an embedding: `dimensions` below 256 truncates and
re-normalises.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MODEL_ID = "wordllama-256"
DIMENSION = 256
MAX_TOKENS = 8192
"""Longest input accepted (tokens), as OpenAI's embedding models."""
_CONFIG = "l2_supercat"
_BATCH = 64

Matrix: TypeAlias = "npt.NDArray[np.float32]"
"""Rows of vectors (a string alias: numpy is imported on first use, never at start-up)."""


@dataclass(frozen=True)
class Encoded:
    """Unit vectors of a batch of texts (one row per text) and each text's token count."""

    vectors: Matrix
    tokens: list[int]


def normalise(vectors: Matrix) -> Matrix:
    """Rows scaled to unit length; an all-zero row (a text of unknown tokens only) stays zero."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: Matrix = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    return out


def truncate(vectors: Matrix, dimensions: int) -> Matrix:
    """The first `dimensions` components of each row, re-normalised (Matryoshka truncation)."""
    import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

    if dimensions >= vectors.shape[1]:
        return vectors
    return normalise(np.ascontiguousarray(vectors[:, :dimensions]))


class BuiltinModel:
    """WordLlama loaded once; `encode` is synchronous and CPU-bound (call it off the event loop)."""

    model_id = MODEL_ID
    dimension = DIMENSION

    def __init__(self) -> None:
        # Imported here: the operator and the tests of pure logic never pay for tokenizers and the weights.
        import wordllama  # noqa: PLC0415

        package = Path(wordllama.__file__).parent
        self._model: Any = wordllama.WordLlama.load(
            config=_CONFIG, dim=DIMENSION, cache_dir=package, disable_download=True
        )

    def encode(self, texts: list[str]) -> Encoded:
        """Unit vectors and token counts of `texts`. Texts are embedded in batches of similar length (sorted
        by length, then put back in order) so that little padding is computed; one tokenization serves both
        the vectors and the counts."""
        import numpy as np  # noqa: PLC0415 - numpy is loaded on first use, not at start-up

        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        tokens = [0] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        table: Matrix = self._model.embedding
        for first in range(0, len(order), _BATCH):
            rows = order[first : first + _BATCH]
            encoded = self._model.tokenize([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
            np.clip(ids, 0, table.shape[0] - 1, out=ids)
            counts = mask.sum(axis=1)
            pooled = (table[ids] * mask[:, :, None]).sum(axis=1) / np.maximum(counts, 1.0)[:, None]
            vectors[rows] = pooled
            for row, count in zip(rows, counts, strict=True):
                tokens[row] = int(count)
        return Encoded(normalise(vectors), tokens)


class LazyModel:
    """The built-in model loaded on its first `encode`, not at start-up: an API that is never asked for an
    embedding never holds WordLlama's weights and tokenizer (tens of MB of resident memory).

    Not thread-safe by itself; its one caller, the embedding batcher, runs every `encode` on a single thread.
    """

    model_id = MODEL_ID
    dimension = DIMENSION

    def __init__(self) -> None:
        self._model: BuiltinModel | None = None

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._model is not None

    def encode(self, texts: list[str]) -> Encoded:
        """As `BuiltinModel.encode`, loading the model first if this is the first call."""
        if self._model is None:
            self._model = BuiltinModel()
        return self._model.encode(texts)
