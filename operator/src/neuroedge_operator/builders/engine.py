"""Desired objects of an Engine: its ConfigMap, its API Deployment (`neuroedge-runtime api`) and its Service.

Pure functions of the parsed Engine and what the handler observed (tenant, default image, referenced config,
tenant resource defaults). The engine's configuration is mounted as files and its content is part of the
spec hash, so that a config change rolls the pods and every replica runs the same configuration.

Names: children are prefixed `engine-` (a WorkerPool's are prefixed `workerpool-`), so an Engine and a
WorkerPool of the same name never fight over one Deployment; the Service carries the bare engine name, which
is what `status.endpoint` advertises.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neuroedge_operator.builders import pods
from neuroedge_operator.resources import engine as engine_model
from neuroedge_operator.resources import workload

COMPONENT = "api"
SERVICE_NAME = "neuroedge-runtime-api"
"""OTEL_SERVICE_NAME of the pods, the name the runtime gives itself in this mode."""
PORT = 8080
PORT_NAME = "http"
CONFIG_DIR = "/etc/neuroedge/config"
MODEL_DIR = "/var/run/neuroedge/model"
CREDENTIALS_DIR = "/var/run/neuroedge/credentials"
MODEL_MOUNT_DIR = "/var/run/neuroedge/models"
"""spec.model volumes: pvc://<claim>/... at <dir>/pvc/<claim>, configmap://<name>/... at
<dir>/configmap/<name> (the runtime resolves the URI to the same path)."""
MODEL_CACHE_DIR = "/var/cache/neuroedge/models"
MODEL_CACHE_LIMIT = "1Gi"
MODEL_URI_ANNOTATION = "neuroedge.io/model-uri"
MODEL_SHA256_ANNOTATION = "neuroedge.io/model-sha256"
GRACE_SECONDS = 30
"""The runtime drains in-flight requests for 20 s on SIGTERM; this leaves it room to close cleanly."""


@dataclass(frozen=True)
class EngineInputs:
    """What the handler observed and passes in; everything else comes from the Engine itself."""

    tenant: str
    default_image: str
    referenced_config: Mapping[str, str] = field(default_factory=dict)
    """`data` of the ConfigMap named by spec.configRef (empty when there is none)."""
    resource_defaults: workload.Resources | None = None
    """The operator's default container resources (NEUROEDGE_RUNTIME_RESOURCES), used when the Engine sets
    none."""
    tracing: Sequence[tuple[str, str]] = ()
    """The operator's OTEL_* configuration the pods inherit (settings.runtime_tracing; empty: no tracing)."""


def name(engine: engine_model.Engine) -> str:
    """Name of the Deployment and ConfigMap."""
    return f"engine-{engine.name}"


def owner_label(engine: engine_model.Engine) -> tuple[str, str]:
    return (engine_model.ENGINE_LABEL, engine.name)


def labels(engine: engine_model.Engine, inputs: EngineInputs) -> dict[str, str]:
    return pods.labels(inputs.tenant, engine.name, COMPONENT, owner_label(engine))


def selector(engine: engine_model.Engine) -> dict[str, str]:
    return pods.selector(COMPONENT, owner_label(engine))


def endpoint(engine: engine_model.Engine) -> str:
    """In-cluster URL of the engine's API (the Service's DNS name)."""
    return f"http://{engine.name}.{engine.namespace}.svc:{PORT}"


def effective_config(engine: engine_model.Engine, referenced: Mapping[str, str]) -> dict[str, str]:
    """The ConfigMap's data: spec.configRef's keys first, spec.config's take precedence (the CRD's rule)."""
    return {**referenced, **engine.spec.config}


def registry_config(
    engine: engine_model.Engine, referenced: Mapping[str, str], api_keys: Mapping[tuple[str, str], str]
) -> dict[str, str]:
    """The registry row's config: the effective config, and for an Engine with spec.llm the key `llm` (JSON)
    with every API key resolved from its Secret. Only the registry row (under row-level security, read by the
    runtime) carries the keys; the ConfigMap never does."""
    config = effective_config(engine, referenced)
    if engine.spec.llm is not None:
        config["llm"] = llm_json(engine.spec.llm, api_keys)
    if engine.spec.routes:
        routes = [r.model_dump(by_alias=True) for r in engine.spec.routes]
        config["routes"] = json.dumps([{**r, "utterances": list(r["utterances"])} for r in routes])
    if engine.spec.fallback is not None:
        config["fallback"] = engine.spec.fallback
    return config


def llm_json(llm: engine_model.LLMSpec, api_keys: Mapping[tuple[str, str], str]) -> str:
    """spec.llm as the runtime's gateway reads it (`apiKey` in place of `apiKeySecretRef`)."""

    def upstream(item: engine_model.LLMUpstream) -> dict[str, Any]:
        ref = item.api_key_secret_ref
        key = api_keys.get((ref.name, ref.key)) if ref is not None else None
        return {"baseURL": item.base_url, "model": item.model, **({"apiKey": key} if key else {})}

    body: dict[str, Any] = {
        **upstream(llm),
        "timeoutSeconds": llm.timeout_seconds,
        "maxTokens": llm.max_tokens,
        "fallbacks": [upstream(f) for f in llm.fallbacks],
    }
    if llm.temperature is not None:
        body["temperature"] = llm.temperature
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def replicas(engine: engine_model.Engine) -> int:
    """spec.replicas, or 0 while suspended (nothing is deleted)."""
    return 0 if engine.spec.suspend else engine.spec.replicas


def config_map(engine: engine_model.Engine, inputs: EngineInputs) -> dict[str, Any]:
    """The effective config, annotated with a hash of its content: a key dropped from the spec changes the
    annotation, so an apply diff that ignores extra live keys still sees the difference and re-applies."""
    data = effective_config(engine, inputs.referenced_config)
    meta = pods.metadata(name(engine), engine.namespace, labels(engine, inputs), engine.meta)
    meta["annotations"] = {pods.SPEC_HASH_ANNOTATION: pods.content_hash(data)}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def service(engine: engine_model.Engine, inputs: EngineInputs) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": pods.metadata(engine.name, engine.namespace, labels(engine, inputs), engine.meta),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(engine),
            "ports": [{"name": PORT_NAME, "port": PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def deployment(engine: engine_model.Engine, inputs: EngineInputs) -> dict[str, Any]:
    config = effective_config(engine, inputs.referenced_config)
    template = pods.pod_template(
        container_spec(engine, inputs), labels(engine, inputs), GRACE_SECONDS, config
    )
    meta = pods.metadata(name(engine), engine.namespace, labels(engine, inputs), engine.meta)
    return pods.deployment(meta, selector(engine), replicas(engine), template)


def container_spec(engine: engine_model.Engine, inputs: EngineInputs) -> pods.ContainerSpec:
    mounts, volumes = _volumes(engine, inputs.tenant)
    return pods.ContainerSpec(
        image=engine.spec.image or inputs.default_image,
        args=["api"],
        env=[
            *_env(engine),
            *pods.tracing_env(
                inputs.tracing,
                SERVICE_NAME,
                engine.namespace,
                inputs.tenant,
                ("neuroedge.engine", engine.name),
            ),
        ],
        env_from=[{"secretRef": {"name": pods.CREDENTIALS_SECRET}}],
        ports=[{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
        probe_port=PORT_NAME,
        resources=pods.resources(engine.spec.resources, inputs.resource_defaults),
        mounts=mounts,
        volumes=volumes,
        annotations={
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(PORT),
            **model_annotations(engine),
        },
    )


def model_annotations(engine: engine_model.Engine) -> dict[str, str]:
    """The model's URI and digest on the pod template: part of the template's hash, so a new model rolls
    the pods (and `kubectl describe pod` says which model a pod serves)."""
    model = engine.spec.model
    if model is None:
        return {}
    found = {MODEL_URI_ANNOTATION: model.uri}
    if model.sha256 is not None:
        found[MODEL_SHA256_ANNOTATION] = model.sha256
    return found


def _env(engine: engine_model.Engine) -> list[dict[str, Any]]:
    pool = engine.spec.worker_pool_ref.name if engine.spec.worker_pool_ref else ""
    values = {
        "NEUROEDGE_ENGINE": engine.name,
        "NEUROEDGE_ENGINE_TYPE": engine.spec.type,
        "NEUROEDGE_POOL": pool,
        "NEUROEDGE_RUNTIME_HOST": "0.0.0.0",  # noqa: S104 - the pod's own interface; the Service fronts it
        "NEUROEDGE_RUNTIME_PORT": str(PORT),
        "NEUROEDGE_CONFIG_DIR": CONFIG_DIR,
        "NEUROEDGE_CREDENTIALS_DIR": CREDENTIALS_DIR,
    }
    if engine.spec.model_ref is not None:
        values["NEUROEDGE_MODEL_DIR"] = MODEL_DIR
    if engine.spec.model is not None:
        values["NEUROEDGE_MODEL_MOUNT_DIR"] = MODEL_MOUNT_DIR
        values["NEUROEDGE_MODEL_CACHE_DIR"] = MODEL_CACHE_DIR
    return [pods.secret_env("NEUROEDGE_TENANT", pods.CREDENTIALS_SECRET, "TENANT"), *pods.env(values)]


def _volumes(engine: engine_model.Engine, tenant: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The config as files, the credentials where the runtime re-reads them on key rotation, the model."""
    mounts = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "credentials", "mountPath": f"{CREDENTIALS_DIR}/{tenant}", "readOnly": True},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": name(engine)}},
        pods.secret_volume("credentials", pods.CREDENTIALS_SECRET),
    ]
    if engine.spec.model_ref is not None:
        mounts.append({"name": "model", "mountPath": MODEL_DIR, "readOnly": True})
        volumes.append(pods.secret_volume("model", engine.spec.model_ref.name))
    if engine.spec.model is not None:
        model_mounts, model_volumes = model_storage(engine.spec.model)
        mounts += model_mounts
        volumes += model_volumes
    return mounts, volumes


def model_storage(model: engine_model.ModelSource) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The download cache (an emptyDir), and for pvc:// and configmap:// the volume holding the model,
    mounted read-only where the runtime resolves the URI."""
    mounts: list[dict[str, Any]] = [{"name": "model-cache", "mountPath": MODEL_CACHE_DIR}]
    volumes: list[dict[str, Any]] = [{"name": "model-cache", "emptyDir": {"sizeLimit": MODEL_CACHE_LIMIT}}]
    store = model_volume(model, "model-store")
    if store is not None:
        mounts.append(store[0])
        volumes.append(store[1])
    return mounts, volumes


def model_volume(
    model: engine_model.ModelSource, volume_name: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(mount, volume) of a pvc:// or configmap:// model's claim or ConfigMap, named `volume_name`, mounted
    read-only at `<MODEL_MOUNT_DIR>/<scheme>/<volume>` (where the runtime resolves the URI); None for a
    downloaded model. Every pod that loads such a model mounts it this way: the Engine's own, and the
    WorkerPool's that runs its jobs."""
    if model.scheme == "pvc":
        source: dict[str, Any] = {"persistentVolumeClaim": {"claimName": model.volume, "readOnly": True}}
    elif model.scheme == "configmap":
        source = {"configMap": {"name": model.volume}}
    else:
        return None
    mount = {"name": volume_name, "mountPath": model_mount_path(model), "readOnly": True}
    return mount, {"name": volume_name, **source}


def model_mount_path(model: engine_model.ModelSource) -> str:
    """Where a pvc:// or configmap:// model's volume is mounted (the runtime's `mounted_path` convention)."""
    return f"{MODEL_MOUNT_DIR}/{model.scheme}/{model.volume}"


def desired(engine: engine_model.Engine, inputs: EngineInputs) -> list[dict[str, Any]]:
    """Every object of the Engine, in apply order (the ConfigMap before the pods that mount it)."""
    return [config_map(engine, inputs), deployment(engine, inputs), service(engine, inputs)]
