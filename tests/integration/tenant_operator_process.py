"""The operator as a real subprocess (`neuroedge operator`), with its metrics scraped over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

NEUROEDGE_OPERATOR = Path(sys.executable).parent / "neuroedge-operator"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OperatorProcess:
    """Start, stop and scrape one operator process; its log goes to `log_path`."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.metrics_port, self.health_port = free_port(), free_port()
        self._env = {
            **os.environ,
            **env,
            "NEUROEDGE_METRICS_PORT": str(self.metrics_port),
            "NEUROEDGE_HEALTH_PORT": str(self.health_port),
        }
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self._log_path.open("ab")
        self._proc = subprocess.Popen([str(NEUROEDGE_OPERATOR)], env=self._env, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"operator exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"operator not healthy within 60s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def send(self, signum: int) -> None:
        """Send a signal to the operator process (SIGKILL, SIGSTOP, SIGCONT, SIGTERM in failover tests)."""
        assert self._proc is not None
        self._proc.send_signal(signum)

    def wait_exit(self, timeout: float) -> int:
        """The exit code, once the process has ended (after SIGTERM or SIGKILL)."""
        assert self._proc is not None
        return self._proc.wait(timeout)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 60) -> str:
        text = self._log_path.read_text(errors="replace") if self._log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def samples(self, *names: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample of the metrics `names`, by name and labels (to show what changed between reads)."""
        body = (
            urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        )
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
            if sample.name in names
        }

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        body = (
            urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        )
        total = 0.0
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total


WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE"}
OPERATOR_RESOURCES = {
    "tenants",
    "namespaces",
    "resourcequotas",
    "limitranges",
    "networkpolicies",
    "serviceaccounts",
    "roles",
    "rolebindings",
    "secrets",
    "events",
}


def apiserver_writes(metrics_text: str) -> float:
    """Writes to the kinds the operator manages, from the API server's `apiserver_request_total` (status
    subresources of other kinds, e.g. the quota controller's, are left out)."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name != "apiserver_request_total":
                continue
            labels = sample.labels
            resource, sub = labels.get("resource"), labels.get("subresource", "")
            if labels.get("verb") in WRITE_VERBS and resource in OPERATOR_RESOURCES:
                if sub and not (resource == "tenants" and sub == "status"):
                    continue
                total += sample.value
    return total
