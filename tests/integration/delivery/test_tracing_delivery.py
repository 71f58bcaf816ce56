"""Tracing as a platform team installs it: the chart's `tracing` values (off by default) set the standard
OTEL_* variables on the operator, which passes them on to the runtime pods it generates (checked by feeding
the rendered environment to the operator's own settings loader and pod builders); bad values are refused
with a message naming them; the kustomize component sets the same variables as the chart's values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from delivery_helpers import REPO, documents, helm_template, run

from neuroedge_dev import toolchain
from neuroedge_operator import settings
from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.builders import workerpool as pool_builder
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workerpool as pool_model

pytestmark = pytest.mark.timeout(1200)  # the first session on a machine builds helm (minutes)

ENDPOINT = "http://otel-collector.observability.svc:4318"
ON = ("--set", "tracing.enabled=true", "--set", f"tracing.otlpEndpoint={ENDPOINT}")


def example(name: str) -> dict[str, Any]:
    """A sample object of crds/examples/ as the API server hands it over (with a uid)."""
    body = yaml.safe_load((REPO / "crds" / "examples" / name).read_text())
    body["metadata"]["uid"] = f"uid-{name}"
    assert isinstance(body, dict)
    return body


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def otel_env(docs: list[dict[str, Any]]) -> dict[str, str]:
    env = operator_container(docs)["env"]
    return {e["name"]: e["value"] for e in env if e["name"].startswith("OTEL_")}


def rendered_env(helm: Path, *args: str) -> dict[str, str]:
    result = helm_template(helm, *args)
    assert result.returncode == 0, result.stderr
    return otel_env(documents(result.stdout))


def test_tracing_is_off_by_default(helm_rendering: str) -> None:
    assert otel_env(documents(helm_rendering)) == {}


def test_enabled_tracing_sets_the_standard_variables_on_the_operator(helm: Path) -> None:
    env = rendered_env(
        helm,
        *ON,
        "--set-json", "tracing.samplerArg=0.25",  # a number as well as a string
        "--set", "tracing.resourceAttributes.k8s\\.cluster\\.name=eu-1",
        "--set", "tracing.resourceAttributes.deployment\\.environment\\.name=prod",
    )  # fmt: skip
    assert env == {
        "OTEL_SERVICE_NAME": "neuroedge-operator",
        "OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,k8s.cluster.name=eu-1",
    }


def test_the_runtime_pods_the_operator_generates_inherit_the_charts_tracing(helm: Path) -> None:
    """The rendered environment through the operator's real settings loader and pod builders."""
    env = rendered_env(
        helm, *ON, "--set", "tracing.sampler=parentbased_always_on",
        "--set", "tracing.resourceAttributes.k8s\\.cluster\\.name=eu-1",
    )  # fmt: skip
    admin = {
        "NEUROEDGE_DATABASE_URL": "postgresql://u:p@db:5432/ne",
        "NEUROEDGE_REDIS_URL": "redis://r:6379/0",
    }
    operator = settings.from_env({**admin, **env})
    engine = engine_model.parse(example("engine.yaml"))
    pool = pool_model.parse(example("workerpool.yaml"))
    engine_inputs = engine_builder.EngineInputs("acme", "img", tracing=operator.runtime_tracing)
    pool_inputs = pool_builder.PoolInputs("acme", "img", replicas=1, tracing=operator.runtime_tracing)
    pods = [
        (engine_builder.deployment(engine, engine_inputs), "api", f"neuroedge.engine={engine.name}"),
        (pool_builder.deployment(pool, pool_inputs), "worker", f"neuroedge.pool={pool.name}"),
    ]
    for deployment, component, owner in pods:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        pod_env = {e["name"]: e["value"] for e in container["env"] if e["name"].startswith("OTEL_")}
        assert pod_env["OTEL_SERVICE_NAME"] == f"neuroedge-runtime-{component}"
        assert pod_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == ENDPOINT
        assert pod_env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert pod_env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"
        assert pod_env["OTEL_RESOURCE_ATTRIBUTES"].startswith("k8s.cluster.name=eu-1,k8s.namespace.name=")
        assert pod_env["OTEL_RESOURCE_ATTRIBUTES"].endswith(f",neuroedge.tenant=acme,{owner}")


def test_enabled_without_an_endpoint_fails_rendering(helm: Path) -> None:
    result = helm_template(helm, "--set", "tracing.enabled=true")
    assert result.returncode != 0
    assert "tracing.enabled needs tracing.otlpEndpoint" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "tracing.protocol=grpc"], "at '/tracing/protocol': value must be 'http/protobuf'"),
        (["--set", "tracing.sampler=sometimes"], "at '/tracing/sampler': value must be one of"),
        (["--set", "tracing.samplerArg=1.5"], "at '/tracing/samplerArg': '1.5' does not match pattern"),
        (["--set-json", "tracing.samplerArg=1.5"], "at '/tracing/samplerArg': maximum"),
        (["--set", "tracing.otlpEndpoint=collector:4318"], "'collector:4318' does not match pattern"),
        (["--set", "tracing.resourceAttributes.service\\.name=x"], "invalid propertyName 'service.name'"),
        (["--set", "tracing.tls=true"], "additional properties 'tls' not allowed"),
    ],
)
def test_tracing_values_outside_the_schema_are_rejected(helm: Path, args: list[str], message: str) -> None:
    result = helm_template(helm, *ON, *args)
    assert result.returncode != 0, args
    assert message in result.stderr, result.stderr


def test_the_kustomize_component_sets_what_the_chart_sets(helm: Path, tmp_path: Path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    manifests = os.path.relpath(REPO / "manifests", overlay)
    (overlay / "kustomization.yaml").write_text(
        f"resources: [{manifests}]\ncomponents: [{manifests}/components/tracing]\n"
    )
    kustomized = run([toolchain.kubectl(), "kustomize", overlay])
    assert kustomized.returncode == 0, kustomized.stderr
    assert otel_env(documents(kustomized.stdout)) == rendered_env(helm, *ON)
