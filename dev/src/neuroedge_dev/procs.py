"""Starting, probing and stopping the stack's daemons.

Daemons run in their own session (process group) so that stopping the stack also stops anything they
forked, and so that a Ctrl-C in the shell that ran `make up` does not take them down.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A failure with a one-line explanation meant for the person running the stack."""


FIRST_PORT = 10000
"""The lowest port `free_port` hands out."""
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_given: set[int] = set()
"""Ports this process has handed out: never twice, though a caller may not have bound one yet."""


def free_port() -> int:
    """A port free a moment ago on loopback, below the kernel's ephemeral range when there is room there.

    Why below it: a daemon restarted in place (`stack.restart_service`, the chaos test; `make up` again)
    binds its old port again, and while it was down any outgoing connection on the machine could take that
    port as its source port: a kube-apiserver restart failed once with "address already in use" on a port
    the kernel had handed out that way. Ports below the range are never handed out to outgoing connections.
    Chosen at random there and checked by binding; a race with another binder is caught by the readiness
    wait, as before."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(FIRST_PORT, low) if low > FIRST_PORT else _kernel_port()  # noqa: S311 - not a secret
        if port not in _given and _bindable(port):
            _given.add(port)
            return port
    raise StackError(f"no free port on 127.0.0.1 between {FIRST_PORT} and {low}")


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux's default when it cannot be read)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _kernel_port() -> int:
    """A port the kernel picks (within its ephemeral range): the fallback when there is no room below it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def spawn(
    argv: Sequence[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    user: str | None = None,
    cwd: Path | None = None,
) -> int:
    """Start a daemon detached from our process group, with stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            user=user,
            cwd=cwd,
            start_new_session=True,
        )
    return proc.pid


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        if status == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            return False
    return True


def stop(pid: int, grace: float = 10.0) -> None:
    """SIGTERM the daemon's process group, then SIGKILL whatever is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return
            time.sleep(0.05)


def wait_until(
    what: str, check: Callable[[], bool], *, timeout: float, pid: int | None = None, log: Path | None = None
) -> None:
    """Poll `check` until it holds; fail early, with the log's tail, if the daemon `pid` died meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        if pid is not None and not is_alive(pid):
            raise StackError(f"{what} exited during start-up; last log lines:\n{tail(log)}")
        time.sleep(0.1)
    raise StackError(f"{what} not ready after {timeout:.0f}s; last log lines:\n{tail(log)}")


def tail(log: Path | None, lines: int = 15) -> str:
    """The end of a log file, for error messages."""
    if log is None or not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on loopback `port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    """True when GET `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:  # noqa: S310 - loopback URLs we build
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def pids_mentioning(marker: str) -> list[int]:
    """Processes whose command line or working directory names `marker` (the stack's state directory).
    Teardown uses it as a safety net, so that a start-up that failed half-way never leaves stray daemons
    behind. The working directory matters for daemons that rewrite their process title (redis-server shows
    only `host:port`) but run inside the state directory."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if marker in cmdline or cwd == marker or cwd.startswith(marker.rstrip("/") + "/"):
            found.append(int(entry.name))
    return found
