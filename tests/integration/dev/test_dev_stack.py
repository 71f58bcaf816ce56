"""The local stack does what `make up` and `make down` promise: idempotent, usable, nothing left behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from neuroedge_dev import controlplane, procs, services, toolchain
from neuroedge_dev import stack as dev_stack

NEUROEDGE = [sys.executable, "-m", "neuroedge_dev.cli"]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_second_up_changes_nothing(dev_cluster: dev_stack.Stack, dev_state_dir: Path) -> None:
    again = dev_stack.up(dev_state_dir, cluster=True)
    assert {n: p.pid for n, p in again.processes.items()} == {
        n: p.pid for n, p in dev_cluster.processes.items()
    }


def test_server_reports_the_version_it_was_built_from(kubeconfig: Path) -> None:
    version = json.loads(controlplane.kubectl(kubeconfig, "version", "-o", "json"))
    assert version["serverVersion"]["gitVersion"] == toolchain.KUBERNETES_VERSION


def test_env_prints_exports_that_reach_the_stack(dev_cluster: dev_stack.Stack, dev_state_dir: Path) -> None:
    out = subprocess.run(
        [*NEUROEDGE, "dev", "env", "--state-dir", str(dev_state_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    assert set(exports) >= {"KUBECONFIG", "DATABASE_URL", "REDIS_URL"}
    env = {**os.environ, "KUBECONFIG": exports["KUBECONFIG"].strip("'")}
    nodes = subprocess.run(
        [str(toolchain.kubectl()), "get", "nodes", "-o", "name"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert nodes == [f"node/{name}" for name in dev_stack.FAKE_NODES]


def test_down_stops_every_process_and_frees_every_port() -> None:
    state = Path(tempfile.mkdtemp(prefix="neuroedge-down-"))
    running = dev_stack.up(state, cluster=True)
    ports = [p.port for p in running.processes.values()]
    assert all(_port_open(port) for port in ports)
    stopped = dev_stack.down(state, purge=True)
    assert set(stopped) >= set(running.processes)
    assert procs.pids_mentioning(str(state.resolve())) == []
    assert [port for port in ports if _port_open(port)] == []
    assert not state.exists()


def test_missing_go_toolchain_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROEDGE_CACHE_DIR", str(tmp_path / "cache"))
    bin_dir = tmp_path / "bin"  # everything but Go: redis-server only
    bin_dir.mkdir()
    (bin_dir / "redis-server").symlink_to(toolchain.redis_server())
    monkeypatch.setenv("PATH", str(bin_dir))
    proc = subprocess.run([*NEUROEDGE, "dev", "install"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "go not found" in lines[0] and "install Go" in lines[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as an unprivileged user")
def test_unreachable_state_dir_is_one_clear_line(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(procs.StackError, match=r"cannot reach .*world-traversable"):
        services.start_postgres(private / "state", procs.free_port())


def test_down_stops_a_daemon_that_was_started_but_never_recorded() -> None:
    """A start-up that fails half-way (say PostgreSQL fails while Redis, started beside it, is already up)
    has recorded nothing; `down` still finds Redis, although Redis retitles itself to `host:port`."""
    state = Path(tempfile.mkdtemp(prefix="neuroedge-leak-"))
    (state / "logs").mkdir()
    redis = services.start_redis(state, procs.free_port())
    try:
        assert str(state) not in Path(f"/proc/{redis.pid}/cmdline").read_bytes().decode(errors="replace")
        dev_stack.down(state, purge=True)
        assert not procs.is_alive(redis.pid)
        assert not _port_open(redis.port)
    finally:
        procs.stop(redis.pid)  # this test's own cleanup, even when `down` failed to find it
