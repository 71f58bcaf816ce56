"""The Engine's ConfigMap, Deployment and Service: names, labels, ownership, env, mounts, replicas."""

from __future__ import annotations

from typing import Any

import workload_samples as samples

from neuroedge_operator.builders import engine as engine_builder
from neuroedge_operator.resources import workload

INPUTS = engine_builder.EngineInputs(tenant="acme", default_image="registry.local/neuroedge/runtime:1.0")
LABELS = {
    "app.kubernetes.io/name": "neuroedge-runtime",
    "app.kubernetes.io/instance": "support-assistant",
    "app.kubernetes.io/component": "api",
    "app.kubernetes.io/managed-by": "neuroedge-operator",
    "app.kubernetes.io/part-of": "neuroedge",
    "neuroedge.io/tenant": "acme",
    "neuroedge.io/engine": "support-assistant",
}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_desired_objects_in_apply_order_all_owned_and_labelled() -> None:
    objects = engine_builder.desired(samples.engine(), INPUTS)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ConfigMap", "engine-support-assistant"),
        ("Deployment", "engine-support-assistant"),
        ("Service", "support-assistant"),
    ]
    for obj in objects:
        assert obj["metadata"]["namespace"] == "acme"
        assert obj["metadata"]["labels"] == LABELS
        (owner,) = obj["metadata"]["ownerReferences"]
        assert owner == {
            "apiVersion": "neuroedge.io/v1alpha1",
            "kind": "Engine",
            "name": "support-assistant",
            "uid": "uid-engine-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }


def test_deployment_runs_the_api_with_its_identity_and_the_tenant_credentials() -> None:
    deployment = engine_builder.deployment(samples.engine(), INPUTS)
    container = _container(deployment)
    assert container["image"] == INPUTS.default_image
    assert [*container["command"], *container["args"]] == ["neuroedge-runtime", "api"]
    env = _env(container)
    assert env["NEUROEDGE_ENGINE"] == "support-assistant"
    assert env["NEUROEDGE_ENGINE_TYPE"] == "conversation"
    assert env["NEUROEDGE_POOL"] == "general"
    assert env["NEUROEDGE_RUNTIME_HOST"] == "0.0.0.0"  # else probes and the Service cannot reach it
    assert env["NEUROEDGE_RUNTIME_PORT"] == "8080"
    assert env["NEUROEDGE_TENANT"] == {
        "secretKeyRef": {"name": "neuroedge-tenant-credentials", "key": "TENANT"}
    }
    assert container["envFrom"] == [{"secretRef": {"name": "neuroedge-tenant-credentials"}}]
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/component": "api", "neuroedge.io/engine": "support-assistant"}
    }
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= template_labels.items()


def test_config_credentials_and_model_are_mounted_read_only() -> None:
    deployment = engine_builder.deployment(samples.engine(), INPUTS)
    pod = deployment["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in _container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["config"] == "/etc/neuroedge/config"
    assert volumes["config"]["configMap"] == {"name": "engine-support-assistant"}
    assert mounts["credentials"] == "/var/run/neuroedge/credentials/acme"  # <dir>/<tenant>/<KEY>
    assert volumes["credentials"]["secret"]["secretName"] == "neuroedge-tenant-credentials"
    assert mounts["model"] == "/var/run/neuroedge/model"
    assert volumes["model"]["secret"] == {"secretName": "support-model", "defaultMode": 0o440}
    assert _env(_container(deployment))["NEUROEDGE_MODEL_DIR"] == "/var/run/neuroedge/model"


def test_engine_without_model_or_pool_mounts_no_model() -> None:
    engine = samples.engine(modelRef=None, workerPoolRef=None, schedules=[])
    container = _container(engine_builder.deployment(engine, INPUTS))
    assert "model" not in {m["name"] for m in container["volumeMounts"]}
    assert _env(container)["NEUROEDGE_POOL"] == ""
    assert "NEUROEDGE_MODEL_DIR" not in _env(container)


def test_own_image_wins_over_the_default() -> None:
    engine = samples.engine(image="registry.local/custom:2")
    assert _container(engine_builder.deployment(engine, INPUTS))["image"] == "registry.local/custom:2"


def test_suspend_scales_to_zero_and_keeps_every_object() -> None:
    objects = engine_builder.desired(samples.engine(suspend=True), INPUTS)
    assert [o["kind"] for o in objects] == ["ConfigMap", "Deployment", "Service"]
    assert objects[1]["spec"]["replicas"] == 0


def test_config_map_merges_the_referenced_config_under_the_spec() -> None:
    engine = samples.engine(configRef={"name": "shared"})
    inputs = engine_builder.EngineInputs(
        "acme", "img", referenced_config={"SYSTEM_PROMPT": "old", "EXTRA": "1"}
    )
    data = engine_builder.config_map(engine, inputs)["data"]
    assert data == {"SYSTEM_PROMPT": "You are helpful.", "MAX_HISTORY_TURNS": "20", "EXTRA": "1"}


def test_service_fronts_the_api_pods_and_status_endpoint_matches_it() -> None:
    engine = samples.engine()
    service = engine_builder.service(engine, INPUTS)
    assert service["spec"]["selector"] == engine_builder.selector(engine)
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]
    assert engine_builder.endpoint(engine) == "http://support-assistant.acme.svc:8080"


def test_tenant_defaults_apply_when_the_engine_sets_no_resources() -> None:
    defaults = workload.Resources.model_validate({"requests": {"cpu": "100m"}, "limits": {"memory": "512Mi"}})
    inputs = engine_builder.EngineInputs("acme", "img", resource_defaults=defaults)
    container = _container(engine_builder.deployment(samples.engine(resources={}), inputs))
    assert container["resources"] == {"requests": {"cpu": "100m"}, "limits": {"memory": "512Mi"}}


def test_builders_do_not_mutate_or_share_state() -> None:
    engine = samples.engine()
    first = engine_builder.desired(engine, INPUTS)
    first[1]["spec"]["template"]["spec"]["containers"][0]["env"].clear()
    first[0]["metadata"]["labels"]["x"] = "y"
    assert engine_builder.desired(engine, INPUTS) != first
    assert engine_builder.desired(engine, INPUTS) == engine_builder.desired(engine, INPUTS)


def test_a_replicas_change_touches_only_spec_replicas() -> None:
    """So the apply diff patches one field and the pods do not roll."""
    before = engine_builder.desired(samples.engine(), INPUTS)
    after = engine_builder.desired(samples.engine(replicas=5), INPUTS)
    assert [o for o in after if o["kind"] != "Deployment"] == [o for o in before if o["kind"] != "Deployment"]
    assert after[1]["spec"].pop("replicas") == 5 and before[1]["spec"].pop("replicas") == 2
    assert after == before


def test_config_map_content_hash_notices_a_dropped_key() -> None:
    """An apply diff that ignores live keys we no longer set still re-applies: the annotation changes."""
    full = engine_builder.config_map(samples.engine(), INPUTS)
    fewer = engine_builder.config_map(samples.engine(config={"SYSTEM_PROMPT": "You are helpful."}), INPUTS)
    annotation = "neuroedge.io/spec-hash"
    assert fewer["data"].items() <= full["data"].items()
    assert fewer["metadata"]["annotations"][annotation] != full["metadata"]["annotations"][annotation]
    again = engine_builder.config_map(samples.engine(), INPUTS)
    assert again["metadata"]["annotations"] == full["metadata"]["annotations"]
