"""`make test` builds what only the suite runs before pytest starts. A cold llama.cpp build takes about 11
minutes, past pytest's 300 s bound per test (fixtures included): a fresh machine's suite failed all 25 LLM
tests that way while their fixture built it. Asked of make itself (`make -n`, which runs nothing), not of the
Makefile's text."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def planned(target: str) -> list[str]:
    """The commands `make <target>` would run, in order."""
    return subprocess.run(
        ["make", "-n", "-C", str(REPO), target], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()


def test_make_test_builds_the_suites_tools_before_pytest() -> None:
    commands = planned("test")
    install = next(i for i, line in enumerate(commands) if "neuroedge dev install" in line)
    pytest_run = next(i for i, line in enumerate(commands) if line.split()[0].endswith("/pytest"))
    assert "--tests" in commands[install].split()
    assert install < pytest_run


def test_make_setup_and_up_stay_as_cheap_as_before() -> None:
    for target in ("setup", "up"):
        install = [line for line in planned(target) if "neuroedge dev install" in line]
        assert install and "--tests" not in install[0].split()
