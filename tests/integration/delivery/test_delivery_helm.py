"""The chart with the real helm: lint passes, values outside the schema are rejected with a message naming
the value, and the toggles render what they promise. Needs no cluster (helm template is client-side).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from delivery_helpers import CHART, documents, helm_template, run

pytestmark = pytest.mark.timeout(1200)  # the first session on a machine builds helm (minutes)


def rendered(helm: Path, *args: str) -> dict[tuple[str, str], dict[str, Any]]:
    result = helm_template(helm, *args)
    assert result.returncode == 0, result.stderr
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents(result.stdout)}


def operator_env(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    container = objects["Deployment", "neuroedge-operator"]["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item for item in container["env"]}


def test_helm_is_the_pinned_release(helm: Path) -> None:
    version = run([helm, "version", "--template", "{{ .Version }}"])
    assert version.stdout == "v3.22.0"


def test_lint_passes_strictly(helm: Path) -> None:
    result = run([helm, "lint", "--strict", CHART])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--set", "logLevel=verbose"],
            "at '/logLevel': value must be one of 'debug', 'info', 'warning', 'error'",
        ),
        (["--set", "replicaCount=2"], "additional properties 'replicaCount' not allowed"),
        (["--set", "resources.limits.cpu=lots"], "at '/resources/limits/cpu': 'lots' does not match pattern"),
        (["--set", "runtime.resources.requests.memory=1 GB"], "at '/runtime/resources/requests/memory'"),
        (
            ["--set-json", 'watchNamespaces=["Team_A"]'],
            "at '/watchNamespaces/0': 'Team_A' does not match pattern",
        ),
        (["--set", "qdrant.url=qdrant:6333"], "at '/qdrant/url': 'qdrant:6333' does not match pattern"),
        (["--set", "metrics.port=80"], "at '/metrics/port': minimum: got 80, want 1,024"),
        (["--set", "image.pullPolicy=Sometimes"], "at '/image/pullPolicy': value must be one of"),
        (["--set", "database.existingSecret.key="], "at '/database/existingSecret/key'"),
    ],
)
def test_values_outside_the_schema_are_rejected_clearly(helm: Path, args: list[str], message: str) -> None:
    for command in ("template", "lint"):
        extra = ["--namespace", "neuroedge-system"] if command == "template" else []
        argv = [helm, command, *(["neuroedge"] if command == "template" else []), CHART, *extra, *args]
        result = run(argv)
        assert result.returncode != 0, (command, args)
        assert message in result.stdout + result.stderr, (command, result.stdout + result.stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "metrics.port=8081"], "metrics.port and healthPort must differ (both are 8081)"),
        (
            ["--set", "redis.existingSecret=null"],
            "redis: set either redis.existingSecret (name and key) or redis.url",
        ),
    ],
)
def test_combinations_the_schema_cannot_express_fail_rendering(
    helm: Path, args: list[str], message: str
) -> None:
    """Template `fail`s stop `helm template/install/upgrade`; `helm lint` reports them only as INFO."""
    result = helm_template(helm, *args)
    assert result.returncode != 0
    assert message in result.stderr


def test_defaults_render_no_service_monitor_and_credentials_from_secrets(helm: Path) -> None:
    objects = rendered(helm)
    assert not any(kind == "ServiceMonitor" for kind, _ in objects)
    env = operator_env(objects)
    assert env["NEUROEDGE_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "neuroedge-database",
        "key": "url",
    }
    assert env["NEUROEDGE_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "neuroedge-redis",
        "key": "url",
    }
    assert env["NEUROEDGE_WATCH_NAMESPACES"]["value"] == ""
    assert env["NEUROEDGE_RUNTIME_IMAGE"]["value"] == "neuroedge/runtime:0.1.0"


def test_service_monitor_toggle(helm: Path) -> None:
    objects = rendered(
        helm,
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        "metrics.serviceMonitor.labels.release=prom",
    )
    monitor = objects["ServiceMonitor", "neuroedge-operator"]
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    service = objects["Service", "neuroedge-operator-metrics"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


def test_operator_settings_reach_the_environment(helm: Path) -> None:
    objects = rendered(
        helm,
        "--set", "logLevel=debug",
        "--set-json", 'watchNamespaces=["team-a","team-b"]',
        "--set", "runtime.image.repository=registry.example/neuroedge/runtime",
        "--set", "runtime.image.tag=1.2.3",
        "--set", "runtime.resources.limits.memory=1Gi",
        "--set", "redis.url=redis://redis.cache.svc:6379/0",
        "--set", "qdrant.apiKeySecret=null",
        "--set", "metrics.port=9090",
    )  # fmt: skip
    env = operator_env(objects)
    assert env["NEUROEDGE_LOG_LEVEL"]["value"] == "debug"
    assert env["NEUROEDGE_WATCH_NAMESPACES"]["value"] == "team-a,team-b"
    assert env["NEUROEDGE_RUNTIME_IMAGE"]["value"] == "registry.example/neuroedge/runtime:1.2.3"
    assert json.loads(env["NEUROEDGE_RUNTIME_RESOURCES"]["value"])["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert env["NEUROEDGE_REDIS_URL"] == {
        "name": "NEUROEDGE_REDIS_URL",
        "value": "redis://redis.cache.svc:6379/0",
    }
    assert "NEUROEDGE_QDRANT_API_KEY" not in env
    assert env["NEUROEDGE_METRICS_PORT"]["value"] == "9090"
    service = objects["Service", "neuroedge-operator-metrics"]
    assert service["spec"]["ports"][0]["port"] == 9090


def test_other_release_names_prefix_every_object(helm: Path) -> None:
    result = run([helm, "template", "edge", CHART, "--namespace", "platform"])
    assert result.returncode == 0, result.stderr
    names = {doc["metadata"]["name"] for doc in documents(result.stdout)}
    assert names == {"edge-neuroedge-operator", "edge-neuroedge-operator-metrics"}


def test_replicas_prefer_different_nodes_unless_affinity_is_given(helm: Path) -> None:
    default = rendered(helm)["Deployment", "neuroedge-operator"]["spec"]["template"]
    [preferred] = default["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert preferred["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    selector = preferred["podAffinityTerm"]["labelSelector"]["matchLabels"]
    assert selector.items() <= default["metadata"]["labels"].items()
    zones = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "topology.kubernetes.io/zone", "labelSelector": {"matchLabels": selector}}
    ]}}  # fmt: skip
    given = rendered(helm, "--set-json", f"affinity={json.dumps(zones)}")["Deployment", "neuroedge-operator"]
    assert given["spec"]["template"]["spec"]["affinity"] == zones
