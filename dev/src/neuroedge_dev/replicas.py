"""Operator replicas as real subprocesses (`neuroedge-operator`), their metrics scraped over HTTP, and a pair
of them electing a leader on the Lease: what the failover tests and the failover benchmark both drive.

A replica's environment is the caller's; `Pair` adds the lease timings and a pod name per replica. The pair
reads the Lease through kubectl, as an operator of the cluster would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from neuroedge_dev import controlplane, procs

NEUROEDGE_OPERATOR = Path(sys.executable).parent / "neuroedge-operator"
LEASE = "neuroedge-operator"


class OperatorProcess:
    """Start, stop and scrape one operator process; its log goes to `log_path`."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.metrics_port, self.health_port = procs.free_port(), procs.free_port()
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
        """Send a signal to the operator process (SIGKILL, SIGSTOP, SIGCONT, SIGTERM in failover runs)."""
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
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(self._scrape())
            for sample in family.samples
            if sample.name in names
        }

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels`."""
        total = 0.0
        for family in text_string_to_metric_families(self._scrape()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def _scrape(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())


@dataclass(frozen=True)
class LeaseTimings:
    """Lease duration, renew deadline and retry period, in seconds (NEUROEDGE_LEASE_*)."""

    duration: float
    renew_deadline: float
    retry_period: float

    def env(self) -> dict[str, str]:
        return {
            "NEUROEDGE_LEASE_DURATION": str(self.duration),
            "NEUROEDGE_LEASE_RENEW_DEADLINE": str(self.renew_deadline),
            "NEUROEDGE_LEASE_RETRY_PERIOD": str(self.retry_period),
        }


class Pair:
    """Two operator replicas on the Lease in `default`: `a` started first (so it leads), `b` the standby."""

    def __init__(self, kubeconfig: Path, env: Mapping[str, str], timings: LeaseTimings, logs: Path) -> None:
        common = {
            **env,
            **timings.env(),
            "KUBECONFIG": str(kubeconfig),
            "POD_NAMESPACE": "default",
        }
        self.kubeconfig, self.timings = kubeconfig, timings
        self.a = OperatorProcess({**common, "POD_NAME": "ha-a"}, logs / "ha-a.log")
        self.b = OperatorProcess({**common, "POD_NAME": "ha-b"}, logs / "ha-b.log")

    def start(self) -> None:
        """A fresh Lease, `a` started and leading, then `b` started as the standby."""
        controlplane.kubectl(self.kubeconfig, "delete", "lease", LEASE, "-n", "default", "--ignore-not-found")
        self.a.start()
        self.wait_holder("ha-a", 30)
        self.b.start()

    def stop(self) -> None:
        for proc in (self.a, self.b):
            with contextlib.suppress(AssertionError, ProcessLookupError):
                proc.send(signal.SIGCONT)
            proc.stop()

    def holder(self) -> str:
        out = controlplane.kubectl(
            self.kubeconfig,
            "get",
            "lease",
            LEASE,
            "-n",
            "default",
            "-o",
            "jsonpath={.spec.holderIdentity}",
            check=False,
        )
        return out.strip()

    def wait_holder(self, who: str, timeout: float) -> float:
        """Seconds until `who` holds the Lease (AssertionError after `timeout`, with both logs)."""
        start = time.monotonic()
        while self.holder() != who:
            assert time.monotonic() - start < timeout, f"{who} did not take over in {timeout}s\n{self.logs()}"
            time.sleep(0.05)
        return time.monotonic() - start

    def logs(self) -> str:
        return f"--- ha-a ---\n{self.a.log_tail()}\n--- ha-b ---\n{self.b.log_tail()}"
