"""The Dockerfiles, read as text: they cannot be built here (no container engine), so their promises are
checked statically; the install steps they run are exercised by
tests/integration/delivery/test_delivery_wheel.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DOCKERFILES = {"operator": REPO / "operator/Dockerfile", "runtime": REPO / "runtime/Dockerfile"}
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make ", "apt-get", "python3-dev", "pip wheel", "pip install")


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [arg for name, arg in self.instructions if name == instruction]


def stages(path: Path) -> list[Stage]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    result: list[Stage] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, arg = line.strip().partition(" ")
        if name.upper() == "FROM":
            result.append(Stage(base=arg))
        elif result:
            result[-1].instructions.append((name.upper(), arg.strip()))
    return result


@pytest.mark.parametrize("image", DOCKERFILES)
def test_multi_stage_on_the_same_slim_python(image: str) -> None:
    built = stages(DOCKERFILES[image])
    assert len(built) == 2
    assert built[0].base == "${PYTHON_IMAGE} AS build"
    assert built[1].base == "${PYTHON_IMAGE}"  # same interpreter path, so the copied virtualenv works
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILES[image].read_text(), re.MULTILINE)


@pytest.mark.parametrize("image", DOCKERFILES)
def test_final_stage_is_non_root_without_build_tools(image: str) -> None:
    final = stages(DOCKERFILES[image])[-1]
    users = final.args("USER")
    assert users == ["65532:65532"]
    assert all(part.isdigit() and int(part) > 0 for part in users[0].split(":"))
    runs = " ".join(final.args("RUN"))
    for tool in BUILD_TOOLS:
        assert tool not in runs, tool
    assert "pip uninstall" in runs  # the base image's installer goes too
    assert final.args("COPY") == ["--from=build /opt/neuroedge /opt/neuroedge"]
    env = " ".join(final.args("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PATH=/opt/neuroedge/bin:$PATH" in env


@pytest.mark.parametrize("image", DOCKERFILES)
def test_build_stage_installs_only_its_part_offline(image: str) -> None:
    build = stages(DOCKERFILES[image])[0]
    run = " ".join(build.args("RUN"))
    assert f"pip wheel --wheel-dir /wheels ./queue ./{image}" in run
    assert f"pip install --no-index --find-links /wheels neuroedge-{image}" in run
    other = "runtime" if image == "operator" else "operator"
    copied = " ".join(build.args("COPY"))
    assert other not in copied and "dev" not in copied.split(), copied


def test_entrypoints_are_each_parts_console_script() -> None:
    operator, runtime = stages(DOCKERFILES["operator"])[-1], stages(DOCKERFILES["runtime"])[-1]
    assert (operator.args("ENTRYPOINT"), operator.args("CMD")) == (['["neuroedge-operator"]'], [])
    assert (runtime.args("ENTRYPOINT"), runtime.args("CMD")) == (['["neuroedge-runtime"]'], ['["api"]'])


def test_operator_healthcheck_probes_what_the_deployment_probes() -> None:
    (check,) = stages(DOCKERFILES["operator"])[-1].args("HEALTHCHECK")
    deployment = yaml.safe_load((REPO / "manifests/base/operator/deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    probe = container["livenessProbe"]["httpGet"]
    assert f"http://127.0.0.1:{ports[probe['port']]}{probe['path']}" in check
    assert container["image"].startswith("neuroedge/operator:")


def test_build_context_excludes_local_state() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".git", ".venv", ".neuroedge", "dist"):
        assert path in ignored
