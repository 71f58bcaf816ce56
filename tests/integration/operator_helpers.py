"""Helpers of the operator's end-to-end tests (Tenant, VectorIndex, ...): a running operator process,
kubectl against the test control plane, waiting for conditions, reading a tenant's credentials Secret."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from neuroedge_dev import controlplane, replicas


def unique(prefix: str) -> str:
    """A fresh object name: tests of one module share a cluster and never reuse each other's names."""
    return f"{prefix}-{uuid.uuid4().hex[:5]}"


def operator_env(kubeconfig: Path, database_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    """The environment of a real operator process against the test cluster, database and Redis, with
    `settings` (`NEUROEDGE_*`, `OTEL_*`, `POD_*` names) added."""
    return {
        "KUBECONFIG": str(kubeconfig),
        "NEUROEDGE_DATABASE_URL": database_url,
        "NEUROEDGE_REDIS_URL": redis_url,
        **settings,
    }


@contextlib.contextmanager
def running_operator(
    env: Mapping[str, str], log: Path, log_lines: int = 0
) -> Iterator[replicas.OperatorProcess]:
    """A real operator process with `env` (see `operator_env`), healthy when the block starts and stopped when
    it ends, also when the start or the block fails, so that no operator outlives its test. With `log_lines`,
    that many last lines of its log (written to `log`) are printed after the stop: pytest shows them with a
    failing test's teardown."""
    proc = replicas.OperatorProcess(env, log)
    try:
        proc.start()
        yield proc
    finally:
        proc.stop()
        if log_lines:
            print(proc.log_tail(log_lines))


def kubectl(kubeconfig: Path, *args: str, input_text: str | None = None, check: bool = True) -> str:
    return controlplane.kubectl(kubeconfig, *args, input_text=input_text, check=check)


def apply_tenant(
    kubeconfig: Path, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None
) -> None:
    body = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": spec,
    }
    kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(body))


def get(kubeconfig: Path, *what: str) -> dict[str, Any]:
    return dict(json.loads(kubectl(kubeconfig, "get", *what, "-o", "json")))


def exists(kubeconfig: Path, *what: str) -> bool:
    return bool(kubectl(kubeconfig, "get", *what, "--ignore-not-found", "-o", "name").strip())


def wait_ready(kubeconfig: Path, name: str, timeout: int = 60) -> None:
    kubectl(kubeconfig, "wait", "--for=condition=Ready", f"tenant/{name}", f"--timeout={timeout}s")


def condition(kubeconfig: Path, name: str, kind: str) -> dict[str, Any]:
    conds = get(kubeconfig, "tenant", name).get("status", {}).get("conditions", [])
    return next((c for c in conds if c["type"] == kind), {})


async def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


def secret_values(kubeconfig: Path, namespace: str) -> dict[str, str]:
    data = get(kubeconfig, "secret", "neuroedge-tenant-credentials", "-n", namespace)["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}
