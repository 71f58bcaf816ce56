"""A real `llama-server` for the LLM gateway tests: built by the dev toolchain, started on a free loopback
port with a given model, stopped at the end."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LlamaServer:
    """One llama-server process serving `model` (OpenAI API under `/v1`)."""

    def __init__(self, binary: Path, model: Path, log: Path, *, context: int = 4096, slots: int = 2) -> None:
        self.port = free_port()
        self.log = log
        argv = [
            str(binary),
            "--model", str(model),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--ctx-size", str(context),
            "--parallel", str(slots),
            "--threads", "1",
            "--jinja",
            "--metrics",
            "--slots",
        ]  # fmt: skip
        self._out = log.open("w")
        self.process = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT)
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def _wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama-server exited with {self.process.returncode}: {self.log.read_text()}"
                )
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"llama-server not ready in {timeout}s: {self.log.read_text()[-2000:]}")

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as resp:
            return json.loads(resp.read())

    def metric(self, name: str) -> float:
        """A value of llama-server's Prometheus `/metrics` (e.g. `llamacpp:tokens_predicted_total`)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        raise KeyError(name)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._out.close()


class SilentUpstream:
    """A TCP server that accepts connections and reads requests but never answers: an upstream that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.sock.close()


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/v1"
