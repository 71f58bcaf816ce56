"""The operator's ClusterRole is least privilege, proven against the real API server.

The operator runs as a real process with a ServiceAccount token (not the admin certificate), bound to the
ClusterRole shipped in `manifests/` (the Helm chart's is checked equal elsewhere). With every rule it
reconciles the samples to Ready and deletes them without a single authorisation failure; with any one rule
removed, the API server refuses some request of the same scenario, which the operator logs. A rule whose
removal nobody notices would be a rule we do not need.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from operator_helpers import kubectl
from tenant_operator_process import OperatorProcess

REPO = Path(__file__).resolve().parents[3]
CLUSTER_ROLE = yaml.safe_load((REPO / "manifests/base/rbac/clusterrole.yaml").read_text())
LEASE_ROLE = yaml.safe_load((REPO / "manifests/base/rbac/role.yaml").read_text())
# The ClusterRole's rules, then the Role's (the leader-election Lease in the operator's own namespace).
RULES: list[dict[str, Any]] = CLUSTER_ROLE["rules"] + [
    {**rule, "namespaced": True} for rule in LEASE_ROLE["rules"]
]
NAMESPACE, ACCOUNT, ROLE = "lp-system", "lp-operator", "lp-operator"
# The API server's refusals of the operator's account, as kopf logs them or the operator reports them in a
# status condition: a plain RBAC denial names verb and resource; an escalation refusal names the Role.
DENIED = re.compile(
    r'(?i)serviceaccount:lp-system:lp-operator\\?"(?: \(groups=[^)]*\))? '
    r'(?:cannot (\w+) resource \\?"([\w./-]+)|(is attempting to grant) RBAC)'
)
SCENARIO_TIMEOUT = 45.0
RUNTIME_ROLE_RESOURCES = {"secrets", "configmaps"}
KEDA_CRDS = "\n---\n".join(
    f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {plural}.keda.sh}}
spec:
  group: keda.sh
  scope: Namespaced
  names: {{kind: {kind}, plural: {plural}, singular: {kind.lower()}, listKind: {kind}List}}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}
"""
    for kind, plural in (
        ("ScaledObject", "scaledobjects"),
        ("TriggerAuthentication", "triggerauthentications"),
    )
)  # what builders/rbac.py grants tenant runtimes


def rule_id(rule: dict[str, Any]) -> str:
    verbs = f":{'+'.join(rule['verbs'])}" if rule.get("namespaced") else ""
    return f"{'+'.join(rule['apiGroups']) or 'core'}:{'+'.join(rule['resources'])}{verbs}"


@pytest.fixture(scope="module")
def operator_kubeconfig(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kubeconfig holding a token of the operator's ServiceAccount, and nothing else."""
    kubectl(kubeconfig, "create", "namespace", NAMESPACE)
    kubectl(kubeconfig, "-n", NAMESPACE, "create", "serviceaccount", ACCOUNT)
    token = kubectl(kubeconfig, "-n", NAMESPACE, "create", "token", ACCOUNT, "--duration=2h").strip()
    document = yaml.safe_load(kubeconfig.read_text())
    document["users"] = [{"name": ACCOUNT, "user": {"token": token}}]
    document["contexts"][0]["context"]["user"] = ACCOUNT
    path = tmp_path_factory.mktemp("least-privilege") / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": ROLE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}],
    }
    kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(binding))
    lease_binding = {
        **binding,
        "kind": "RoleBinding",
        "metadata": {"name": ROLE, "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
    }
    kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(lease_binding))
    return path


def grant(kubeconfig: Path, rules: list[dict[str, Any]]) -> None:
    """The ClusterRole and the operator namespace's Role with `rules`; the Lease is deleted, so that every
    scenario starts the election afresh (and needs `create`)."""
    cluster_role = copy.deepcopy(CLUSTER_ROLE)
    cluster_role["metadata"] = {"name": ROLE}
    cluster_role["rules"] = [r for r in rules if not r.get("namespaced")]
    role = copy.deepcopy(LEASE_ROLE)
    role["metadata"] = {"name": ROLE, "namespace": NAMESPACE}
    role["rules"] = [{k: v for k, v in r.items() if k != "namespaced"} for r in rules if r.get("namespaced")]
    for document in (cluster_role, role):
        kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(document))
    kubectl(kubeconfig, "delete", "lease", "neuroedge-operator", "-n", NAMESPACE, "--ignore-not-found")


@pytest.fixture(scope="module", autouse=True)
def keda_installed(kubeconfig: Path) -> Iterator[None]:
    """KEDA's two CRDs (schema-less stand-ins: the operator only creates objects of them), so that the
    keda.sh rule is exercised by a WorkerPool with `autoscaling.keda`."""
    kubectl(kubeconfig, "apply", "-f", "-", input_text=KEDA_CRDS)
    kubectl(kubeconfig, "wait", "--for=condition=Established", "crd/scaledobjects.keda.sh", "--timeout=30s")
    kubectl(
        kubeconfig,
        "wait",
        "--for=condition=Established",
        "crd/triggerauthentications.keda.sh",
        "--timeout=30s",
    )
    yield
    kubectl(kubeconfig, "delete", "-f", "-", "--ignore-not-found", "--wait=true", input_text=KEDA_CRDS)


@pytest.fixture
def operator_as_account(
    operator_kubeconfig: Path, database_url: str, redis_url: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    parts = urlsplit(database_url)
    env = {
        "KUBECONFIG": str(operator_kubeconfig),
        "NEUROEDGE_DATABASE_URL": database_url,
        "NEUROEDGE_REDIS_URL": redis_url,
        "NEUROEDGE_TENANT_DATABASE_HOST": f"{parts.hostname}:{parts.port}",
        "NEUROEDGE_RESYNC_INTERVAL": "2",
        "NEUROEDGE_AUTOSCALE_INTERVAL": "1",
        "NEUROEDGE_KEDA_CHECK_INTERVAL": "2",
        "NEUROEDGE_LOG_LEVEL": "INFO",
        "POD_NAME": "lp-operator-0",
        "POD_NAMESPACE": NAMESPACE,
    }
    proc = OperatorProcess(env, tmp_path / "operator.log")
    yield proc
    proc.stop()


def samples(name: str) -> list[dict[str, Any]]:
    """One object of every kind the operator reconciles (and what they refer to), in the order they are
    applied."""
    return [
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": name},
            "spec": {"namespaces": [name], "database": {"reclaimPolicy": "Delete"}},
        },
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "WorkerPool",
            "metadata": {"name": "general", "namespace": name},
            "spec": {
                "replicas": 2,
                "minReplicas": 1,
                "maxReplicas": 4,
                "engines": ["assistant"],
                "autoscaling": {"enabled": True, "cooldownSeconds": 0},
            },
        },
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "WorkerPool",
            "metadata": {"name": "bursty", "namespace": name},
            "spec": {"replicas": 1, "maxReplicas": 4, "autoscaling": {"enabled": True, "keda": True}},
        },
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "Engine",
            "metadata": {"name": "assistant", "namespace": name},
            "spec": {
                "type": "analytics",
                "replicas": 2,
                "workerPoolRef": {"name": "general"},
                "config": {"outlier_z": "2.5"},
            },
        },
        # A predictive Engine whose model is on a claim, which the operator reads by name (the claim need not
        # be bound: no replica is wanted, so no pod waits for it).
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "models", "namespace": name},
            "spec": {"accessModes": ["ReadOnlyMany"], "resources": {"requests": {"storage": "1Gi"}}},
        },
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "Engine",
            "metadata": {"name": "scorer", "namespace": name},
            "spec": {"type": "predictive", "replicas": 0, "model": {"uri": "pvc://models/iris.onnx"}},
        },
        {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "VectorIndex",
            "metadata": {"name": "docs", "namespace": name},
            "spec": {
                "backend": "pgvector",
                "dimension": 8,
                "reclaimPolicy": "Delete",
                "payloadIndexes": [{"field": "lang", "type": "keyword"}],
            },
        },
    ]


def _ready(kubeconfig: Path, obj: dict[str, Any]) -> bool:
    if not obj["apiVersion"].startswith("neuroedge.io/"):
        return True  # an object the scenario's objects refer to, with no conditions of its own
    where = ["-n", obj["metadata"]["namespace"]] if "namespace" in obj["metadata"] else []
    out = kubectl(
        kubeconfig,
        "get",
        obj["kind"].lower(),
        obj["metadata"]["name"],
        *where,
        "-o",
        "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
        check=False,
    )
    return out.strip() == "True"


def denials(kubeconfig: Path, proc: OperatorProcess, name: str) -> set[tuple[str, str]]:
    """(verb, resource) pairs the API server refused to the operator's account in scenario `name`: from the
    operator's log (one process per scenario) and from the status conditions of the scenario's own objects."""
    statuses = kubectl(kubeconfig, "get", "tenant", name, "-o", "json", "--ignore-not-found", check=False)
    statuses += kubectl(
        kubeconfig, "get", "engines,workerpools,vectorindexes", "-n", name, "-o", "json", check=False
    )
    found: set[tuple[str, str]] = set()
    for verb, resource, escalation in DENIED.findall(proc.log_tail(lines=100_000) + statuses):
        found.add(("escalate", "roles") if escalation else (verb, resource))
    return found


BEST_EFFORT = {"events"}
"""kopf posts events in the background and only logs a refusal: without the rule the scenario may complete
before the first refused post, so the rule proves itself needed by the refusal alone."""


def run_scenario(kubeconfig: Path, proc: OperatorProcess, name: str) -> tuple[bool, set[tuple[str, str]]]:
    """Create every sample, wait for Ready, delete the Tenant and wait until it is gone; stop early at the
    first refusal. Returns whether the scenario completed and what was refused."""
    proc.start()
    deadline = time.monotonic() + SCENARIO_TIMEOUT

    def until(check: Callable[[], bool]) -> bool:
        while not check():
            if denials(kubeconfig, proc, name) or time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    objects = samples(name)
    for obj in objects:
        if obj["kind"] != "Tenant" and not until(lambda: _exists(kubeconfig, "namespace", name)):
            return False, denials(kubeconfig, proc, name)
        kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(obj))
    if not until(lambda: all(_ready(kubeconfig, obj) for obj in objects) and _autoscaled(kubeconfig, name)):
        return False, denials(kubeconfig, proc, name)
    if not until(lambda: _exists(kubeconfig, "scaledobject", "workerpool-bursty", name)):
        return False, denials(kubeconfig, proc, name)
    kubectl(kubeconfig, "delete", "tenant", name, "--wait=false")
    completed = until(lambda: not _exists(kubeconfig, "tenant", name))
    return completed, denials(kubeconfig, proc, name)


def _exists(kubeconfig: Path, kind: str, name: str, namespace: str | None = None) -> bool:
    where = ["-n", namespace] if namespace else []
    return bool(kubectl(kubeconfig, "get", kind, name, *where, "--ignore-not-found", "-o", "name").strip())


def _autoscaled(kubeconfig: Path, namespace: str) -> bool:
    """The operator's autoscaler has scaled the idle pool `general` down to its minimum through /scale."""
    replicas = kubectl(
        kubeconfig,
        "get",
        "workerpool",
        "general",
        "-n",
        namespace,
        "-o",
        "jsonpath={.spec.replicas}",
        check=False,
    )
    return replicas.strip() == "1"


def _cleanup(kubeconfig: Path, name: str) -> None:
    """Remove what a refused scenario left behind (finalizers included) with the admin identity."""
    for kind in ("vectorindex", "workerpool", "engine"):
        for ref in kubectl(kubeconfig, "get", kind, "-n", name, "-o", "name", check=False).split():
            kubectl(
                kubeconfig,
                "patch",
                ref,
                "-n",
                name,
                "--type=merge",
                "-p",
                '{"metadata":{"finalizers":null}}',
                check=False,
            )
    kubectl(
        kubeconfig,
        "patch",
        "tenant",
        name,
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
        check=False,
    )
    kubectl(kubeconfig, "delete", "tenant", name, "--ignore-not-found", "--wait=false", check=False)
    kubectl(kubeconfig, "delete", "namespace", name, "--ignore-not-found", "--wait=false", check=False)


def test_the_full_cluster_role_reconciles_everything_without_a_refusal(
    kubeconfig: Path, operator_kubeconfig: Path, operator_as_account: OperatorProcess
) -> None:
    grant(kubeconfig, RULES)
    completed, refused = run_scenario(kubeconfig, operator_as_account, "lp-full")
    assert refused == set(), operator_as_account.log_tail()
    assert completed, kubectl(kubeconfig, "get", "tenants,vectorindexes", "-A", "-o", "yaml", check=False)


@pytest.mark.parametrize("index", range(len(RULES)), ids=[rule_id(r) for r in RULES])
def test_removing_any_rule_makes_a_reconcile_fail(
    kubeconfig: Path, operator_kubeconfig: Path, operator_as_account: OperatorProcess, index: int
) -> None:
    grant(kubeconfig, RULES[:index] + RULES[index + 1 :])
    name = f"lp-r{index}"
    try:
        completed, refused = run_scenario(kubeconfig, operator_as_account, name)
    finally:
        operator_as_account.stop()
        _cleanup(kubeconfig, name)
    removed = {res.split("/")[0] for res in RULES[index]["resources"]}
    if removed & RUNTIME_ROLE_RESOURCES:
        removed.add("roles")  # without it the operator may not grant the runtime Role (escalation refused)
    assert refused, f"nothing was refused without rule {rule_id(RULES[index])}: the rule is not needed"
    assert {resource.split("/")[0] for _, resource in refused} & removed, refused
    if removed != BEST_EFFORT:
        assert not completed
