"""`make lint`, `make typecheck` and `make unit` run on a machine where the control plane was never built:
they depend on the virtualenv alone, never on `setup` (whose `neuroedge dev install` builds Kubernetes, etcd
and kwok from source), and run nothing that needs those binaries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

MAKEFILE = Path(__file__).resolve().parents[3] / "Makefile"


def rules() -> dict[str, tuple[list[str], list[str]]]:
    """target -> (prerequisites, recipe lines) of the Makefile's plain rules."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] | None = None
    for line in MAKEFILE.read_text().splitlines():
        if line.startswith("\t") and current is not None:
            current.append(line.strip())
            continue
        match = re.match(r"^([A-Za-z][\w-]*)\s*:(?!=)\s*(.*)$", line)
        current = None
        if match:
            current = []
            found[match.group(1)] = (match.group(2).split(), current)
    return found


@pytest.mark.parametrize("target", ["lint", "typecheck", "unit"])
def test_target_needs_only_the_virtualenv(target: str) -> None:
    prerequisites, recipe = rules()[target]
    assert prerequisites == ["$(STAMP)"]
    assert recipe and not any("dev install" in line or "dev up" in line for line in recipe)


def test_setup_is_what_builds_the_control_plane() -> None:
    prerequisites, recipe = rules()["setup"]
    assert prerequisites == ["$(STAMP)"] and any("dev install" in line for line in recipe)
    assert "setup" in rules()["test"][0]


def test_unit_runs_only_the_unit_tree() -> None:
    _prerequisites, recipe = rules()["unit"]
    assert recipe == ["$(BIN)/pytest tests/unit $(PYTEST_ARGS)"]
