"""Fixtures of the delivery tests: helm (built once from the Go module proxy) and the two renderings."""

from __future__ import annotations

from pathlib import Path

import pytest
from delivery_helpers import REPO, helm_template, run

from neuroedge_dev import toolchain


@pytest.fixture(scope="session")
def helm() -> Path:
    """helm v3.22.0; the first build on a machine takes minutes, later sessions find it in the cache."""
    toolchain.build(toolchain.HELM)
    return toolchain.helm()


@pytest.fixture(scope="session")
def helm_rendering(helm: Path) -> str:
    rendered = helm_template(helm, "--include-crds")
    assert rendered.returncode == 0, rendered.stderr
    return rendered.stdout


@pytest.fixture(scope="session")
def kustomize_rendering() -> str:
    rendered = run([toolchain.kubectl(), "kustomize", REPO / "manifests"])
    assert rendered.returncode == 0, rendered.stderr
    return rendered.stdout
