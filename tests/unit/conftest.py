"""Unit tests run without the dev stack and without a network: `make unit` works before `make setup` has built
the control plane. This guard makes that a checked rule, not a habit: a unit test that opens a listening or
outgoing internet socket or starts a process fails at once, naming what it tried. Such a test belongs in
tests/integration/."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

_INTERNET = (socket.AF_INET, socket.AF_INET6)


class ForbiddenInUnitTestError(RuntimeError):
    """A unit test tried to reach a server, start one or run a program."""


@pytest.fixture(autouse=True)
def _no_servers_no_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_bind, real_connect = socket.socket.bind, socket.socket.connect

    def bind(self: socket.socket, address: Any) -> None:
        if self.family in _INTERNET:
            raise ForbiddenInUnitTestError(
                f"a unit test may not listen on {address!r}: move it to tests/integration"
            )
        real_bind(self, address)

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in _INTERNET:
            raise ForbiddenInUnitTestError(
                f"a unit test may not connect to {address!r}: move it to tests/integration"
            )
        real_connect(self, address)

    def popen(*args: Any, **kwargs: Any) -> None:
        raise ForbiddenInUnitTestError(f"a unit test may not run {args[1] if len(args) > 1 else kwargs}")

    monkeypatch.setattr(socket.socket, "bind", bind)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    yield
