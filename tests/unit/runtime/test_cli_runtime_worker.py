"""`neuroedge-runtime worker`: the command exists and refuses a bad environment with exit status 2."""

from __future__ import annotations

import pytest

from neuroedge_runtime import cli
from neuroedge_runtime.queue import service


def test_runtime_worker_command_is_parsed() -> None:
    args = cli.parser().parse_args(["worker"])
    assert args.mode == "worker" and cli.MODES["worker"] is cli._worker


def test_bad_environment_exits_2_naming_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert service.main({"NEUROEDGE_TENANT": "acme", "NEUROEDGE_POOL": "p"}) == 2
    assert "REDIS_URL is not set" in capsys.readouterr().err
