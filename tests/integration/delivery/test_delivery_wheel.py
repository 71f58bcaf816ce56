"""PACKAGING TEST (about 30-60 s; the first run on a machine also builds the dependency wheelhouse, minutes):
the images' install steps, run here. operator/Dockerfile and runtime/Dockerfile do
`pip wheel --wheel-dir /wheels .` then `pip install --no-index --find-links /wheels neuroedge` in a fresh
virtualenv; this test does the same and starts the entry points from that virtualenv.

The dependencies' wheels are cached per dependency list (~/.cache/neuroedge/wheels/<hash>) because downloading
them is what makes the step slow, not what it tests; the project's own wheel is rebuilt on every run.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from delivery_helpers import REPO, run

from neuroedge_operator.dev import paths

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1200)]


def pip(*args: str | Path) -> None:
    result = run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args])
    assert result.returncode == 0, result.stdout + result.stderr


def dependency_wheelhouse() -> Path:
    """Wheels of every runtime dependency, built once per dependency list with the Dockerfile's command."""
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    digest = hashlib.sha256("\n".join(sorted(dependencies)).encode()).hexdigest()[:16]
    house = paths.cache_dir() / "wheels" / digest
    if not (house / ".complete").exists():
        partial = house.with_name(digest + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        pip("wheel", "--quiet", "--wheel-dir", partial, REPO)
        for own in partial.glob("neuroedge-*.whl"):
            own.unlink()
        (partial / ".complete").touch()
        shutil.rmtree(house, ignore_errors=True)
        partial.rename(house)
    return house


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv (no pip of its own) with the project installed offline from wheels only."""
    work = tmp_path_factory.mktemp("wheel")
    house = dependency_wheelhouse()
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", work / "dist", REPO)
    venv = work / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert created.returncode == 0, created.stderr
    pip("--python", venv / "bin/python", "install", "--quiet", "--no-index",
        "--find-links", work / "dist", "--find-links", house, "neuroedge")  # fmt: skip
    return venv


def test_wheel_carries_both_packages_and_their_type_markers(installed: Path) -> None:
    (wheel,) = (installed.parent / "dist").glob("neuroedge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"neuroedge_operator/py.typed", "neuroedge_runtime/py.typed", "neuroedge_operator/cli.py"} <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "neuroedge = neuroedge_operator.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_entry_point_starts_from_the_fresh_virtualenv(installed: Path) -> None:
    for argv in (["--help"], ["dev", "--help"]):
        result = run([installed / "bin/neuroedge", *argv])
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: neuroedge"), result.stdout
    # Imported from the virtualenv, not from the source tree this test runs in.
    where = run(
        [
            installed / "bin/python",
            "-c",
            "import neuroedge_operator, neuroedge_runtime; print(neuroedge_operator.__file__)",
        ]
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(installed)), where.stdout
    # TODO(after the operator/runtime branches merge): also `neuroedge operator --help`,
    # `neuroedge runtime api --help` and `neuroedge runtime worker --help` (the images' entry points).
