"""`make up LLM=1`: a local llama-server with Gemma 3 270M, and the sample conversation Engine pointed at it.

Plain `make up` never starts it (nor builds llama-server), so it stays as fast as before. The server is
recorded in the stack's state like the operator, so `make down` stops it.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from neuroedge_dev import controlplane, llama, llm_models, procs, stack

PROCESS = "llama-server"
SAMPLE_ENGINE = ("acme", "support-assistant")
MODEL = "gemma-3-270m-it"


def argv(binary: Path, model: Path, port: int) -> list[str]:
    """The server's command line: loopback only, tool calls (`--jinja`), Prometheus metrics."""
    return [
        str(binary),
        "--model", str(model),
        "--alias", MODEL,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--ctx-size", "8192",
        "--parallel", "2",
        "--jinja",
        "--metrics",
    ]  # fmt: skip


def engine_patch(base_url: str) -> str:
    """The merge patch that gives the sample Engine its `spec.llm`."""
    return json.dumps({"spec": {"llm": {"baseURL": base_url, "model": MODEL, "maxTokens": 512}}})


def up(state_dir: Path) -> str:
    """Start llama-server (unless running), patch the sample Engine; returns the server's base URL."""
    running = stack.load(state_dir.resolve())
    if running is None:
        raise procs.StackError("the dev stack is not running: `make up` first")
    current = running.processes.get(PROCESS)
    if current is None or not procs.is_alive(current.pid):
        binary, model = llama.build(), llm_models.gemma()
        port = procs.free_port()
        log = Path(running.state_dir) / "logs" / "llama-server.log"
        pid = procs.spawn(argv(binary, model, port), log)
        procs.wait_until("llama-server", lambda: _healthy(port), timeout=120, pid=pid, log=log)
        stack.add_process(running, PROCESS, pid, port, log)
        current = running.processes[PROCESS]
    base_url = f"http://127.0.0.1:{current.port}/v1"
    namespace, name = SAMPLE_ENGINE
    kubeconfig = Path(running.kubeconfig)
    controlplane.kubectl(
        kubeconfig, "-n", namespace, "patch", "engine", name, "--type=merge", "-p", engine_patch(base_url)
    )
    return base_url


def _healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
        return bool(resp.status == 200)
