"""The kustomize install, read as files: restricted pod security, the env contract of docs/architecture.md,
and an RBAC surface with every rule explained. What the API server makes of it is tested in
tests/integration/delivery/test_delivery_install.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
BASE = REPO / "manifests" / "base"

# The operator's environment as docs/architecture.md fixes it: the manifest sets every variable, nothing more.
ADDED_ENV = {"POD_NAME", "POD_NAMESPACE"}  # the downward API: the Lease holder and its namespace
SECRET_ENV = {"NEUROEDGE_DATABASE_URL", "NEUROEDGE_REDIS_URL", "NEUROEDGE_QDRANT_API_KEY"}

# (apiGroup, resource) -> verbs: the whole surface, so any widening shows up in review as a test change.
EXPECTED_RBAC = {
    ("neuroedge.io", "tenants"): {"get", "list", "watch", "patch"},
    **{  # delete: a deleting Tenant removes its workloads first
        ("neuroedge.io", r): {"get", "list", "watch", "patch", "delete"}
        for r in ("engines", "workerpools", "vectorindexes")
    },
    **{
        ("neuroedge.io", f"{r}/status"): {"get", "patch"}
        for r in ("tenants", "engines", "workerpools", "vectorindexes")
    },
    ("neuroedge.io", "workerpools/scale"): {"get", "patch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
    ("", "events"): {"create"},
    ("", "pods"): {"get", "list", "watch"},
    ("", "persistentvolumeclaims"): {"get"},  # an Engine's pvc:// model claim, read by name
    ("apps", "replicasets"): {"get", "list", "watch"},
    **{
        key: {"get", "list", "watch", "create", "patch", "delete"}
        for key in [
            ("", "namespaces"),
            ("", "resourcequotas"),
            ("", "limitranges"),
            ("", "serviceaccounts"),
            ("", "secrets"),
            ("", "configmaps"),
            ("", "services"),
            ("networking.k8s.io", "networkpolicies"),
            ("rbac.authorization.k8s.io", "roles"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("apps", "deployments"),
            ("policy", "poddisruptionbudgets"),
            ("keda.sh", "scaledobjects"),
            ("keda.sh", "triggerauthentications"),
        ]
    },
}


def load(relative: str) -> dict[str, Any]:
    document = yaml.safe_load((BASE / relative).read_text())
    assert isinstance(document, dict)
    return document


def operator_container() -> dict[str, Any]:
    containers = load("operator/deployment.yaml")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def architecture_operator_env() -> set[str]:
    text = (REPO / "docs/architecture.md").read_text()
    section = text.split("Operator (`neuroedge_operator.settings`):", 1)[1].split("Runtime API (", 1)[0]
    return set(re.findall(r"`(NEUROEDGE_[A-Z_]+)`", section))


def test_pod_meets_the_restricted_pod_security_standard() -> None:
    pod = load("operator/deployment.yaml")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = operator_container()["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["readOnlyRootFilesystem"] is True
    assert "hostNetwork" not in pod and "hostPID" not in pod
    assert all("hostPath" not in volume for volume in pod["volumes"])
    namespace = load("namespace.yaml")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_two_replicas_behind_the_lease_rolled_one_at_a_time() -> None:
    spec = load("operator/deployment.yaml")["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    assert operator_container()["command"] == ["neuroedge-operator"]
    env = {item["name"]: item for item in operator_container()["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["NEUROEDGE_LEADER_ELECTION"]["value"] == "true"
    budget = load("operator/pdb.yaml")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_the_two_replicas_prefer_different_nodes() -> None:
    """Preferred (not required) anti-affinity by hostname: a node failure takes the leader or the standby, not
    both, and a one-node cluster still schedules both."""
    template = load("operator/deployment.yaml")["spec"]["template"]
    anti = template["spec"]["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti
    [preferred] = anti["preferredDuringSchedulingIgnoredDuringExecution"]
    term = preferred["podAffinityTerm"]
    assert preferred["weight"] == 100
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"


def test_lease_rules_are_exactly_get_update_watch_on_its_name_and_create() -> None:
    role = load("rbac/role.yaml")
    assert role["metadata"] == {
        **role["metadata"],
        "name": "neuroedge-operator",
        "namespace": "neuroedge-system",
    }
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["neuroedge-operator"],
            "verbs": ["get", "update", "watch"],
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
    binding = load("rbac/rolebinding.yaml")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "neuroedge-operator",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "neuroedge-operator", "namespace": "neuroedge-system"}
    ]


def test_probes_on_kopf_liveness_and_metrics_port() -> None:
    container = operator_container()
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    env = {item["name"]: item for item in container["env"]}
    assert env["NEUROEDGE_METRICS_PORT"]["value"] == str(ports["metrics"])
    service = load("operator/service.yaml")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]


def test_env_is_the_architecture_contract_with_credentials_from_secrets() -> None:
    env = {item["name"]: item for item in operator_container()["env"]}
    assert set(env) == architecture_operator_env() | ADDED_ENV
    for name in SECRET_ENV:
        assert "value" not in env[name], name
        assert set(env[name]["valueFrom"]) == {"secretKeyRef"}, name
    assert env["NEUROEDGE_QDRANT_API_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_cluster_role_is_exactly_the_expected_surface() -> None:
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in load("rbac/clusterrole.yaml")["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}  # no resourceNames/nonResourceURLs surprises
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == EXPECTED_RBAC
    every_verb = set().union(*granted.values())
    assert not every_verb & {"*", "update", "escalate", "bind", "impersonate", "deletecollection"}


def test_every_rbac_rule_says_why() -> None:
    lines = (BASE / "rbac/clusterrole.yaml").read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("  - apiGroups:")]
    assert len(starts) == len(load("rbac/clusterrole.yaml")["rules"])
    for index in starts:
        assert lines[index - 1].strip().startswith("#"), f"rule without a comment: line {index + 1}"


def test_binding_names_the_operator_service_account() -> None:
    binding = load("rbac/clusterrolebinding.yaml")
    account = load("rbac/serviceaccount.yaml")
    assert binding["roleRef"]["name"] == load("rbac/clusterrole.yaml")["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "neuroedge-system"}
    ]
    pod = load("operator/deployment.yaml")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_kustomization_lists_every_file_of_the_base() -> None:
    listed = set(load("kustomization.yaml")["resources"])
    on_disk = {str(p.relative_to(BASE)) for p in BASE.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk
