"""`procs.free_port` hands out loopback ports below the kernel's ephemeral range, so that no outgoing
connection can hold a daemon's port while the daemon restarts on it; each one free, none twice."""

from __future__ import annotations

import socket

import pytest

from neuroedge_dev import procs


def test_ports_are_free_distinct_and_below_the_ephemeral_range() -> None:
    low = procs._ephemeral_low()
    assert low > procs.FIRST_PORT  # Linux's default range starts at 32768
    ports = [procs.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(procs.FIRST_PORT <= port < low for port in ports)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports[-1]))  # free when handed out


def test_a_port_in_use_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        in_use = taken.getsockname()[1]
        spare = procs.free_port()
        procs._given.discard(spare)
        draws = iter([in_use, spare])
        monkeypatch.setattr(procs.random, "randrange", lambda start, stop: next(draws))
        assert procs.free_port() == spare  # the port someone listens on was drawn first, and skipped
