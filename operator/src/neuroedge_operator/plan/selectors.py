"""Label selectors evaluated in memory (equality `k=v` and existence `k` terms, comma-separated), so that
reads served from a watch cache select exactly what the API server would."""

from __future__ import annotations

from collections.abc import Mapping

Requirements = Mapping[str, str | None]
"""Label key -> required value (None: the key must merely exist)."""


def parse(selector: str) -> dict[str, str | None]:
    """The terms of a selector; raises ValueError on a form we do not evaluate (set-based, `!=`)."""
    found: dict[str, str | None] = {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!" in term or " in " in term or "(" in term:
            raise ValueError(f"unsupported selector term {term!r}")
        key, sep, value = term.partition("==" if "==" in term else "=")
        found[key.strip()] = value.strip() if sep else None
    return found


def matches(requirements: Requirements, labels: Mapping[str, str]) -> bool:
    """Whether an object with `labels` is selected."""
    return all(
        key in labels and (value is None or labels[key] == value) for key, value in requirements.items()
    )


def covers(cache: Requirements, query: Requirements) -> bool:
    """Whether every object `query` selects is in a cache fed with the selector `cache` (the query asks for
    at least the cache's terms)."""
    return all(key in query and (value is None or query[key] == value) for key, value in cache.items())
