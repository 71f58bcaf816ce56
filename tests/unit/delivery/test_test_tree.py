"""The test tree stays collectable: pytest imports test modules by basename (there are no packages under
tests/), so two files of one name in different folders stop the whole collection."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_test_files_have_unique_basenames() -> None:
    """pytest imports test modules by basename (no packages under tests/): two files of one name in different
    folders stop the whole collection, so the clash is caught here, naming both."""
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(REPO)} and {path.relative_to(REPO)}")
        seen.setdefault(path.name, path)
    assert not clashes, clashes
