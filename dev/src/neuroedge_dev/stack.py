"""`neuroedge dev up|down|status|env`: the whole local stack, recorded in `<state>/state.json`.

`up` is idempotent: when every recorded daemon is alive it changes nothing. `down` stops the daemons in
reverse order and then sweeps any process still naming the state directory.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from neuroedge_dev import controlplane, llama, pki, procs, services, toolchain

STATE_FILE = "state.json"
FAKE_NODES = ("kwok-node-0", "kwok-node-1")
STOP_ORDER = (
    "runtime-worker",
    "runtime-api",
    "operator",
    "kwok",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
    "redis",
    "postgres",
)


@dataclass
class Process:
    """A daemon of the stack as recorded in the state file."""

    pid: int
    port: int
    log: str


@dataclass
class Stack:
    """What `neuroedge dev env` exports and `down` stops."""

    state_dir: str
    kubeconfig: str
    database_url: str
    redis_url: str
    server_version: str = ""
    runtime_url: str = ""
    processes: dict[str, Process] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Environment variables a shell, the operator or the tests use to reach the stack."""
        values = {
            "KUBECONFIG": self.kubeconfig,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
        }
        if self.runtime_url:
            values["RUNTIME_URL"] = self.runtime_url
        operator = self.processes.get("operator")
        if operator is not None:  # its record's port is the metrics port
            values["NEUROEDGE_OPERATOR_METRICS_URL"] = f"http://127.0.0.1:{operator.port}/metrics"
        values.update(_llama_env())
        return values


def _llama_env() -> dict[str, str]:
    """`NEUROEDGE_LLAMA_SERVER`: the built llama-server (dev/llama.py), once it has been built."""
    return {"NEUROEDGE_LLAMA_SERVER": str(llama.server_binary())} if llama.is_built() else {}


def load(state_dir: Path) -> Stack | None:
    """The recorded stack, or None when there is none."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    raw = json.loads(path.read_text())
    raw["processes"] = {name: Process(**proc) for name, proc in raw.get("processes", {}).items()}
    return Stack(**raw)


def save(stack: Stack) -> None:
    """Record the stack (mode 0600: the URLs carry passwords).

    Several holders may have the same stack in memory (the test session's services and cluster fixtures, a
    `make up` adding workers): the recorded processes are merged with the file's under a lock, so one
    holder's save never drops daemons another recorded. Removal is explicit: `forget_process`."""
    with _state_lock(Path(stack.state_dir)):
        _write(stack, merge=True)


def forget_process(stack: Stack, name: str) -> Process | None:
    """Drop a daemon from the record (the caller stops it); returns what was recorded."""
    with _state_lock(Path(stack.state_dir)):
        stack.processes.pop(name, None)
        recorded = load(Path(stack.state_dir))
        gone = recorded.processes.pop(name, None) if recorded else None
        if recorded is not None:
            stack.processes.update(recorded.processes)
        _write(stack, merge=False)
    return gone


def _write(stack: Stack, *, merge: bool) -> None:
    path = Path(stack.state_dir) / STATE_FILE
    recorded = load(Path(stack.state_dir)) if merge else None
    if recorded is not None:
        stack.processes = {**recorded.processes, **stack.processes}
        stack.runtime_url = stack.runtime_url or recorded.runtime_url
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(stack), indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


@contextlib.contextmanager
def _state_lock(state_dir: Path) -> Iterator[None]:
    with (state_dir / "state.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dead_processes(stack: Stack) -> list[str]:
    """Names of recorded daemons that are no longer running."""
    return [name for name, proc in stack.processes.items() if not procs.is_alive(proc.pid)]


def is_app(name: str) -> bool:
    """The operator, the runtime's processes, the credentials sync and llama-server run on top of the stack;
    `up` restarts them one by one (`dev/apps.py`), whereas a dead daemon of the stack itself means starting it
    afresh."""
    return name in {"operator", "credentials-sync", "llama-server"} or name.startswith("runtime-")


def _prepare_state_dir(state_dir: Path) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    # PostgreSQL runs as an unprivileged user when we are root, and must traverse into the state directory.
    state_dir.chmod(0o755)
    (state_dir / "logs").mkdir(exist_ok=True)


def up(state_dir: Path, crds_dir: Path | None = None, *, cluster: bool = True) -> Stack:
    """Start (or keep) the stack under `state_dir`: PostgreSQL and Redis, and with `cluster` the control plane
    with the CRDs from `crds_dir` installed."""
    state_dir = state_dir.resolve()
    current = load(state_dir)
    if current is not None and any(not is_app(name) for name in dead_processes(current)):
        down(state_dir)
        current = None
    if current is not None and (not cluster or "kube-apiserver" in current.processes):
        return current
    if cluster:
        toolchain.build_all()
    _prepare_state_dir(state_dir)
    try:
        stack = current or start_services(state_dir)
        if cluster:
            start_cluster(stack)
            if crds_dir is not None:
                install_crds(stack, crds_dir)
    except BaseException:
        down(state_dir)
        raise
    return stack


def start_services(state_dir: Path) -> Stack:
    """PostgreSQL and Redis, started side by side."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        postgres = pool.submit(services.start_postgres, state_dir, procs.free_port())
        redis = pool.submit(services.start_redis, state_dir, procs.free_port())
        pg, rd = postgres.result(), redis.result()
    stack = Stack(
        state_dir=str(state_dir),
        kubeconfig=str(state_dir / "kubeconfig"),
        database_url=pg.url,
        redis_url=rd.url,
        processes={
            "postgres": Process(pg.pid, pg.port, str(pg.log)),
            "redis": Process(rd.pid, rd.port, str(rd.log)),
        },
    )
    save(stack)
    return stack


def start_cluster(stack: Stack) -> None:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and its fake nodes."""
    state_dir = Path(stack.state_dir)
    keys = pki.ensure(state_dir / "pki")
    kubeconfig = Path(stack.kubeconfig)
    etcd = controlplane.start_etcd(state_dir, procs.free_port(), procs.free_port())
    add_process(stack, etcd.name, etcd.pid, etcd.port, etcd.log)
    apiserver = controlplane.start_apiserver(state_dir, procs.free_port(), etcd.port, keys)
    add_process(stack, apiserver.name, apiserver.pid, apiserver.port, apiserver.log)
    controlplane.write_kubeconfig(kubeconfig, f"https://127.0.0.1:{apiserver.port}", keys)
    for component in (
        controlplane.start_controller_manager(state_dir, procs.free_port(), kubeconfig, keys),
        controlplane.start_scheduler(state_dir, procs.free_port(), kubeconfig),
        controlplane.start_kwok(state_dir, procs.free_port(), kubeconfig),
    ):
        add_process(stack, component.name, component.pid, component.port, component.log)
    for node in FAKE_NODES:
        controlplane.register_fake_node(kubeconfig, node)
    controlplane.wait_for_service_accounts(kubeconfig)
    version = json.loads(controlplane.kubectl(kubeconfig, "version", "-o", "json"))
    stack.server_version = str(version["serverVersion"]["gitVersion"])
    save(stack)


def install_crds(stack: Stack, crds_dir: Path) -> None:
    """Apply every CRD in `crds_dir` and wait until the API server serves them."""
    files = sorted(p for p in crds_dir.glob("*.yaml") if p.is_file())
    if not files:
        return
    kubeconfig = Path(stack.kubeconfig)
    for path in files:
        controlplane.kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", str(path))
    controlplane.kubectl(
        kubeconfig,
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        *(arg for path in files for arg in ("-f", str(path))),
    )


def down(state_dir: Path, *, purge: bool = False) -> list[str]:
    """Stop every daemon of the stack; with `purge`, delete its state too. Returns what was stopped."""
    state_dir = state_dir.resolve()
    stack = load(state_dir)
    stopped: list[str] = []
    if stack is not None:
        for name in sorted(stack.processes, key=lambda n: STOP_ORDER.index(n) if n in STOP_ORDER else -1):
            proc = stack.processes[name]
            if procs.is_alive(proc.pid):
                procs.stop(proc.pid)
                stopped.append(name)
    for pid in procs.pids_mentioning(str(state_dir)):
        procs.stop(pid)
        stopped.append(f"pid {pid}")
    if stack is not None:
        (state_dir / STATE_FILE).unlink(missing_ok=True)
    if purge and state_dir.exists():
        _wait_gone(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
    return stopped


def _wait_gone(state_dir: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while procs.pids_mentioning(str(state_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)


def status(state_dir: Path) -> list[tuple[str, bool, int, str]]:
    """(name, alive, port, log) per recorded daemon."""
    stack = load(state_dir.resolve())
    if stack is None:
        return []
    return [(name, procs.is_alive(p.pid), p.port, p.log) for name, p in stack.processes.items()]


def shell_exports(stack: Stack) -> str:
    """`export NAME='value'` lines for `eval "$(neuroedge dev env)"`."""
    return "\n".join(f"export {key}='{value}'" for key, value in stack.env().items())


def add_process(stack: Stack, name: str, pid: int, port: int, log: Path) -> None:
    """Record an extra daemon (operator, runtime) so that `down` stops it too."""
    stack.processes[name] = Process(pid, port, str(log))
    save(stack)


def environ_with(stack: Stack) -> dict[str, str]:
    """This process's environment plus the stack's."""
    return {**os.environ, **stack.env()}


RESTARTABLE = ("postgres", "redis", "kube-apiserver")


def restart_service(stack: Stack, name: str) -> Process:
    """Stop one daemon of the stack and start it again on its port with its data (PostgreSQL keeps its
    database, Redis starts empty as it has no persistence, kube-apiserver finds everything in etcd): what an
    outage of that server looks like to the operator and the runtime. For the chaos tests."""
    if name not in RESTARTABLE:
        raise procs.StackError(f"{name!r} cannot be restarted in place (one of {', '.join(RESTARTABLE)})")
    state_dir = Path(stack.state_dir)
    old = stack.processes[name]
    procs.stop(old.pid)
    if name == "postgres":
        started = services.start_postgres(state_dir, old.port)
        pid, log = started.pid, started.log
    elif name == "redis":
        started_redis = services.start_redis(state_dir, old.port)
        pid, log = started_redis.pid, started_redis.log
    else:
        keys = pki.ensure(state_dir / "pki")
        etcd = stack.processes["etcd"]
        component = controlplane.start_apiserver(state_dir, old.port, etcd.port, keys)
        pid, log = component.pid, component.log
    add_process(stack, name, pid, old.port, log)
    return stack.processes[name]
