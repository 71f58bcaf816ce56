"""The operator's tracing configuration reaches the runtime pods it generates: the same collector, sampler
and batch settings, a service name per component, resource attributes naming the pod's owner; nothing when
the operator does not trace, and never the exporter's headers (they carry credentials)."""

from __future__ import annotations

from typing import Any

import pytest
import workload_samples as samples

from neuroedge_operator import settings, tracing
from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.builders import pods
from neuroedge_operator.builders import workerpool as pool_builder

BASE = {"NEUROEDGE_DATABASE_URL": "postgresql://u:p@db:5432/ne", "NEUROEDGE_REDIS_URL": "redis://r:6379/0"}
TRACING = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4318",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    "OTEL_TRACES_SAMPLER_ARG": "0.1",
    "OTEL_BSP_SCHEDULE_DELAY": "2000",
    "OTEL_SERVICE_NAME": "neuroedge-operator",
    "OTEL_RESOURCE_ATTRIBUTES": "service.name=neuroedge-operator,deployment.environment.name=prod",
    "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer secret-token",
}


def container_env(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container["env"]}


def spec_hash(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["metadata"]["annotations"][pods.SPEC_HASH_ANNOTATION])


def otel(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name.startswith("OTEL_")}


def test_settings_carry_the_inherited_configuration_without_headers_or_service_name() -> None:
    inherited = dict(settings.from_env({**BASE, **TRACING}).runtime_tracing)
    assert inherited == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4318",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.1",
        "OTEL_BSP_SCHEDULE_DELAY": "2000",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod",
    }


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},  # no exporter
        {**TRACING, "OTEL_SDK_DISABLED": "true"},
        {**TRACING, "OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_nothing_is_inherited_when_the_operator_does_not_trace(env: dict[str, str]) -> None:
    operator = settings.from_env({**BASE, **env})
    assert operator.runtime_tracing == ()
    inputs = engine_builder.EngineInputs("acme", "img", tracing=operator.runtime_tracing)
    assert otel(container_env(engine_builder.deployment(samples.engine(), inputs))) == {}


def test_a_configuration_the_runtime_cannot_honour_is_refused_at_startup() -> None:
    with pytest.raises(settings.SettingsError, match="OTEL_EXPORTER_OTLP_PROTOCOL='grpc' is not supported"):
        settings.from_env({**BASE, **TRACING, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


def test_engine_pods_trace_as_the_api_component_of_their_engine() -> None:
    inherited = tracing.runtime_env(TRACING)
    engine = samples.engine()
    inputs = engine_builder.EngineInputs("acme", "img", tracing=inherited)
    env = otel(container_env(engine_builder.deployment(engine, inputs)))
    assert env["OTEL_SERVICE_NAME"] == "neuroedge-runtime-api"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == TRACING["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == (
        f"deployment.environment.name=prod,k8s.namespace.name={engine.namespace},neuroedge.tenant=acme,"
        f"neuroedge.engine={engine.name}"
    )
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in env


def test_pool_pods_trace_as_the_worker_component_of_their_pool() -> None:
    inherited = tracing.runtime_env({**TRACING, "OTEL_RESOURCE_ATTRIBUTES": ""})
    pool = samples.pool()
    inputs = pool_builder.PoolInputs("acme", "img", replicas=1, tracing=inherited)
    env = otel(container_env(pool_builder.deployment(pool, inputs)))
    assert env["OTEL_SERVICE_NAME"] == "neuroedge-runtime-worker"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert env["OTEL_RESOURCE_ATTRIBUTES"] == (
        f"k8s.namespace.name={pool.namespace},neuroedge.tenant=acme,neuroedge.pool={pool.name}"
    )


def test_a_changed_tracing_setting_rolls_the_pods() -> None:
    engine, pool = samples.engine(), samples.pool()

    def hashes(env: dict[str, str]) -> tuple[str, str]:
        inherited = tracing.runtime_env(env)
        engine_inputs = engine_builder.EngineInputs("acme", "img", tracing=inherited)
        pool_inputs = pool_builder.PoolInputs("acme", "img", replicas=1, tracing=inherited)
        return (
            spec_hash(engine_builder.deployment(engine, engine_inputs)),
            spec_hash(pool_builder.deployment(pool, pool_inputs)),
        )

    off, on = hashes({}), hashes(TRACING)
    other_ratio = hashes({**TRACING, "OTEL_TRACES_SAMPLER_ARG": "0.5"})
    assert off[0] != on[0] and off[1] != on[1]
    assert other_ratio[0] != on[0] and other_ratio[1] != on[1]
    assert hashes(TRACING) == on
