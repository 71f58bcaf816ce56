"""`neuroedge dev install`: the stack's tools always; llama-server with `--llm`; with `--tests` everything the
test suite runs besides (helm, promtool, Jaeger, llama-server), which `make test` builds before pytest."""

from __future__ import annotations

import pytest

from neuroedge_dev import cli, llama, toolchain


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What an install would build, recorded instead of built."""
    done: list[str] = []
    monkeypatch.setattr(toolchain, "install_system_packages", lambda: done.append("debian"))
    monkeypatch.setattr(toolchain, "build_all", lambda: done.append("stack"))
    monkeypatch.setattr(toolchain, "build", lambda tool, **_: done.append(tool.name))
    monkeypatch.setattr(llama, "build", lambda **_: done.append("llama-server"))
    return done


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], ["debian", "stack"]),
        (["--llm"], ["debian", "stack", "llama-server"]),
        (["--tests"], ["debian", "stack", "helm", "promtool", "jaeger", "llama-server"]),
    ],
)
def test_install_builds_what_it_is_asked_for(built: list[str], argv: list[str], expected: list[str]) -> None:
    assert cli.main(["dev", "install", *argv]) == 0
    assert built == expected


def test_the_suites_go_tools_are_not_part_of_the_stacks_build() -> None:
    assert toolchain.TEST_TOOLS == (toolchain.HELM, toolchain.PROMTOOL, toolchain.JAEGER)
    assert not any(tool in toolchain.TOOLS for tool in toolchain.TEST_TOOLS)
