"""Helpers of the delivery tests (a plain module: test modules import it; fixtures live in conftest.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "helm" / "neuroedge"
RELEASE = "neuroedge"
NAMESPACE = "neuroedge-system"


def run(argv: list[str | Path], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], input=stdin, capture_output=True, text=True, check=False, timeout=120
    )


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def helm_template(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`helm template` of the chart as release `neuroedge` in neuroedge-system (the kustomize names)."""
    return run([helm, "template", RELEASE, CHART, "--namespace", NAMESPACE, *args])
