"""One score convention for every backend and distance: higher = more similar.

| distance | score                         | Qdrant returns          | pgvector operator           |
| -------- | ----------------------------- | ----------------------- | --------------------------- |
| Cosine   | cosine similarity, in [-1, 1] | the similarity          | `<=>` distance: 1 - d       |
| Dot      | dot product                   | the dot product         | `<#>` negated product: -d   |
| Euclid   | minus the Euclidean distance  | the distance            | `<->` distance: -d          |

`score_threshold` keeps hits with score >= threshold, so for Euclid it is minus the largest distance allowed.
"""

from __future__ import annotations

PG_OPERATOR = {"Cosine": "<=>", "Dot": "<#>", "Euclid": "<->"}


def from_pgvector(distance: str, value: float) -> float:
    """The score of a pgvector operator result."""
    if distance == "Cosine":
        return 1.0 - value
    return -value


def from_qdrant(distance: str, value: float) -> float:
    """The score of a Qdrant result (Qdrant reports Euclid as a distance, the others as similarities)."""
    return -value if distance == "Euclid" else value


def keep(score: float, threshold: float | None) -> bool:
    """True when a hit passes the score threshold."""
    return threshold is None or score >= threshold
