"""docs/architecture.md lists every environment variable the code reads: a newcomer should never have to grep
the source to find a setting. A variable added to the code without a line in the doc fails here."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SOURCES = [REPO / part / "src" for part in ("queue", "operator", "runtime", "dev")]
DOC = REPO / "docs" / "architecture.md"


def variables_in_code() -> set[str]:
    found: set[str] = set()
    for source in SOURCES:
        for path in source.rglob("*.py"):
            found.update(re.findall(r"[\"'](NEUROEDGE_[A-Z0-9_]+|OTEL_[A-Z0-9_]+)[\"']", path.read_text()))
    return found


def test_the_code_reads_variables_at_all() -> None:
    assert {"NEUROEDGE_DATABASE_URL", "NEUROEDGE_CREDENTIALS_DIR", "NEUROEDGE_POOL"} <= variables_in_code()


def test_every_variable_the_code_reads_is_documented() -> None:
    documented = set(re.findall(r"`((?:NEUROEDGE|OTEL)_[A-Z0-9_]+)`", DOC.read_text()))
    missing = sorted(variables_in_code() - documented)
    assert not missing, f"not in docs/architecture.md: {missing}"
