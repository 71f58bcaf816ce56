"""Both install renderings against the real API server: `helm template` and `kubectl kustomize` output applied
with `kubectl apply --dry-run=server` (admission, schema and PodSecurity run; nothing is stored), and the two
renderings install the same objects with the same RBAC and the same operator pod.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import NAMESPACE, documents, run

from neuroedge_dev import toolchain

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1200)]

Key = tuple[str, str | None, str]
UNMANAGED_CRD = "is missing the kubectl.kubernetes.io/last-applied-configuration annotation"


def keys(rendering: str) -> set[Key]:
    return {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in documents(rendering)}


def find(rendering: str, kind: str) -> dict[str, Any]:
    (found,) = [d for d in documents(rendering) if d["kind"] == kind]
    return found


class Kubectl:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    def __call__(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = run([toolchain.kubectl(), f"--kubeconfig={self.kubeconfig}", *args], stdin=stdin)
        return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def kubectl(kubeconfig: Path, kustomize_rendering: str) -> Iterator[Kubectl]:
    """kubectl with the operator's namespace created for real (dry-run cannot create a namespace that later
    documents of the same apply live in); its labels turn on PodSecurity `restricted` enforce + warn."""
    client = Kubectl(kubeconfig)
    namespace = json.dumps(find(kustomize_rendering, "Namespace"))
    code, _, err = client("apply", "-f", "-", stdin=namespace)
    assert code == 0, err
    yield client
    for kind in ("clusterrolebinding", "clusterrole"):
        client("delete", kind, "neuroedge-operator", "--ignore-not-found")
    client("delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=60s")


def dry_run(kubectl: Kubectl, rendering: str) -> tuple[int, str, str]:
    return kubectl("apply", "--dry-run=server", "-f", "-", stdin=rendering)


@pytest.mark.parametrize("which", ["kustomize", "helm"])
def test_rendering_is_accepted_by_the_api_server(
    kubectl: Kubectl, which: str, kustomize_rendering: str, helm_rendering: str
) -> None:
    rendering = kustomize_rendering if which == "kustomize" else helm_rendering
    code, out, err = dry_run(kubectl, rendering)
    assert code == 0, err
    # PodSecurity (`warn: restricted` on the namespace) or a deprecated API would speak here. The one expected
    # warning: the CRDs the test stack installed were not created by `kubectl apply`.
    unexpected = [
        line for line in err.splitlines() if line.startswith("Warning") and UNMANAGED_CRD not in line
    ]
    assert unexpected == [], err
    applied = {line.split(" ")[0] for line in out.splitlines()}
    assert len(applied) == len(keys(rendering)), out
    assert all(line.endswith("(server dry run)") for line in out.splitlines()), out


def test_pod_security_violation_would_be_reported(kubectl: Kubectl, kustomize_rendering: str) -> None:
    """The control: the same Deployment without its container securityContext draws PodSecurity's warning."""
    deployment = copy.deepcopy(find(kustomize_rendering, "Deployment"))
    del deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    code, _, err = dry_run(kubectl, json.dumps(deployment))
    assert code == 0, err
    assert 'would violate PodSecurity "restricted:latest"' in err
    assert "allowPrivilegeEscalation != false" in err


def test_operator_pod_is_admitted_under_restricted_enforcement(
    kubectl: Kubectl, kustomize_rendering: str
) -> None:
    """Applied for real (the CRDs are already installed): the ReplicaSet's pod passes PodSecurity `enforce:
    restricted` and kwok's fake node runs it until the Deployment is Available. A privileged pod in the same
    namespace is refused, so the namespace really enforces."""
    install = [d for d in documents(kustomize_rendering) if d["kind"] != "CustomResourceDefinition"]
    code, _, err = kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": install})
    )
    assert code == 0, err
    code, _, err = kubectl(
        "-n", NAMESPACE, "wait", "deployment/neuroedge-operator", "--for=condition=Available", "--timeout=90s"
    )
    assert code == 0, err
    code, out, err = kubectl(
        "-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/component=operator", "-o", "json"
    )
    assert code == 0, err
    pods = json.loads(out)["items"]
    assert len(pods) == 2  # the leader and its standby
    assert {pod["spec"]["serviceAccountName"] for pod in pods} == {"neuroedge-operator"}
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged", "namespace": NAMESPACE},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]},
    }
    code, _, err = kubectl("apply", "-f", "-", stdin=json.dumps(privileged))
    assert code != 0
    assert 'violates PodSecurity "restricted:latest"' in err


def test_both_renderings_install_the_same_objects(kustomize_rendering: str, helm_rendering: str) -> None:
    # The only difference: Helm leaves the release namespace to `helm install --create-namespace`.
    assert keys(kustomize_rendering) - keys(helm_rendering) == {("Namespace", None, NAMESPACE)}
    assert keys(helm_rendering) - keys(kustomize_rendering) == set()
    assert len(keys(helm_rendering)) == 12


def test_both_renderings_grant_the_same_rbac(kustomize_rendering: str, helm_rendering: str) -> None:
    for kind in ("ClusterRole", "Role"):
        assert find(helm_rendering, kind)["rules"] == find(kustomize_rendering, kind)["rules"], kind
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        helm_binding, kustomize_binding = find(helm_rendering, kind), find(kustomize_rendering, kind)
        assert (helm_binding["roleRef"], helm_binding["subjects"]) == (
            kustomize_binding["roleRef"],
            kustomize_binding["subjects"],
        )


def test_both_renderings_run_the_same_operator_pod(kustomize_rendering: str, helm_rendering: str) -> None:
    helm_deployment, kustomize_deployment = (
        find(helm_rendering, "Deployment"),
        find(kustomize_rendering, "Deployment"),
    )
    assert helm_deployment["spec"]["template"]["spec"] == kustomize_deployment["spec"]["template"]["spec"]
    assert helm_deployment["spec"]["strategy"] == kustomize_deployment["spec"]["strategy"]
    assert (
        find(helm_rendering, "Service")["spec"]["ports"]
        == find(kustomize_rendering, "Service")["spec"]["ports"]
    )


def test_chart_crds_are_the_repository_crds(helm_rendering: str) -> None:
    rendered = {
        d["metadata"]["name"]: d for d in documents(helm_rendering) if d["kind"] == "CustomResourceDefinition"
    }
    repository = {
        d["metadata"]["name"]: d
        for path in sorted((Path(__file__).resolve().parents[3] / "crds").glob("*.yaml"))
        for d in documents(path.read_text())
    }
    assert rendered == repository


def test_samples_overlay_renders_the_install_plus_one_of_each_kind(kustomize_rendering: str) -> None:
    overlay = run(
        [toolchain.kubectl(), "kustomize", Path(__file__).resolve().parents[3] / "manifests/overlays/samples"]
    )
    assert overlay.returncode == 0, overlay.stderr
    added = keys(overlay.stdout) - keys(kustomize_rendering)
    assert {kind for kind, _, _ in added} == {"Tenant", "Engine", "WorkerPool", "VectorIndex"}
    assert len(added) == 4
