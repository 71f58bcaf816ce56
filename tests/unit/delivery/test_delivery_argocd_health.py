"""Argo CD health checks, run as Argo CD runs them: the Lua script with the resource as global `obj`.

lupa's Lua 5.1 stands in for gopher-lua (Argo CD's embedded Lua 5.1). Each kind has its own copy of the script
(Argo CD's layout); they are equal by construction (helm/sync-crds.py), and each is run against the table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua51 as lua51
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
ARGOCD = REPO / "manifests" / "argocd"
KINDS = ("Tenant", "Engine", "WorkerPool", "VectorIndex")


def ready(status: str, reason: str, message: str = "", kind: str = "Ready") -> dict[str, str]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }


def resource(generation: int = 3, status: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "metadata": {"name": "x", "generation": generation},
    }
    if status is not None:
        body["status"] = status
    return body


def reconciled(*conditions: dict[str, str], observed: int = 3) -> dict[str, Any]:
    return resource(status={"observedGeneration": observed, "conditions": list(conditions)})


# (case, resource, expected status, expected message or None to skip)
CASES: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("no status", resource(), "Progressing", "Waiting for the NeuroEdge operator to report status"),
    ("status without conditions", resource(status={"observedGeneration": 3}), "Progressing", None),
    ("conditions without Ready", reconciled(ready("True", "Found", kind="PoolFound")), "Progressing", None),
    (
        "stale observedGeneration",
        reconciled(ready("True", "Reconciled"), observed=2),
        "Progressing",
        "Waiting for the operator to reconcile generation 3",
    ),
    (
        "observedGeneration missing",
        resource(status={"conditions": [ready("True", "Reconciled")]}),
        "Progressing",
        None,
    ),
    (
        "ready",
        reconciled(ready("True", "Reconciled", "2/2 replicas available")),
        "Healthy",
        "2/2 replicas available",
    ),
    ("ready, empty message", reconciled(ready("True", "Reconciled")), "Healthy", "Reconciled"),
    (
        "suspended",
        reconciled(ready("False", "Suspended", "spec.suspend is true")),
        "Suspended",
        "spec.suspend is true",
    ),
    (
        "degraded wins over ready",
        reconciled(
            ready("True", "Reconciled"), ready("True", "QuotaExceeded", "pods quota", kind="Degraded")
        ),
        "Degraded",
        "pods quota",
    ),
    (
        "degraded False is ignored",
        reconciled(ready("True", "Reconciled"), ready("False", "AsExpected", kind="Degraded")),
        "Healthy",
        None,
    ),
    ("rolling out", reconciled(ready("False", "Progressing", "1/2 ready")), "Progressing", "1/2 ready"),
    ("reconciling", reconciled(ready("False", "Reconciling")), "Progressing", "Reconciling"),
    (
        "waiting for a dependency",
        reconciled(ready("False", "WaitingForPool", "pool general")),
        "Progressing",
        None,
    ),
    (
        "image pull failure",
        reconciled(ready("False", "ImagePullBackOff", "image x not found")),
        "Degraded",
        None,
    ),
    ("unknown failure reason", reconciled(ready("False", "PoolNotFound")), "Degraded", "PoolNotFound"),
    ("Ready Unknown", reconciled(ready("Unknown", "Reconciling", "checking")), "Progressing", "checking"),
    (
        "newer observedGeneration (no regression)",
        reconciled(ready("True", "Reconciled"), observed=4),
        "Healthy",
        None,
    ),
]


def run_health(script: str, obj: dict[str, Any]) -> dict[str, str]:
    """Evaluate `script` the way Argo CD does and return its `hs` table."""
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script)
    return {str(key): str(value) for key, value in result.items()}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("case", "obj", "status", "message"), CASES, ids=[c[0] for c in CASES])
def test_health(kind: str, case: str, obj: dict[str, Any], status: str, message: str | None) -> None:
    script = (ARGOCD / "neuroedge.io" / kind / "health.lua").read_text()
    hs = run_health(script, obj)
    assert hs["status"] == status, case
    assert hs["message"], case  # Argo CD shows it; never empty
    if message is not None:
        assert hs["message"] == message


def test_configmap_patch_carries_the_script_for_every_kind() -> None:
    patch = yaml.safe_load((ARGOCD / "argocd-cm-patch.yaml").read_text())
    assert (patch["kind"], patch["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    expected = {f"resource.customizations.health.neuroedge.io_{kind}" for kind in KINDS}
    assert set(patch["data"]) == expected
    source = (ARGOCD / "health.lua").read_text()
    for key in expected:
        assert patch["data"][key] == source
        assert run_health(patch["data"][key], resource())["status"] == "Progressing"


def test_script_uses_nothing_argocd_sandboxes_away() -> None:
    source = (ARGOCD / "health.lua").read_text()
    for forbidden in ("os.", "io.", "require", "goto", "//"):
        code = "\n".join(line.split("--", 1)[0] for line in source.splitlines())
        assert forbidden not in code, forbidden
