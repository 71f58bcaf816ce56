"""The pod template of every Engine and WorkerPool: one restricted runtime container, labels, the spec hash.

Kept in one place so that both kinds meet Pod Security Standards "restricted" by construction (non-root, no
privilege escalation, no capabilities, seccomp RuntimeDefault, read-only root with an emptyDir for scratch),
and so that "does this change roll the pods?" has one answer: the `neuroedge.io/spec-hash` annotation is a
hash of the whole pod template plus the content it reads from elsewhere (config, referenced Secrets), and
nothing else, so replicas never roll pods and everything that reaches a container does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neuroedge_operator.resources import workload

SPEC_HASH_ANNOTATION = "neuroedge.io/spec-hash"
TENANT_LABEL = "neuroedge.io/tenant"
MANAGED_BY = "neuroedge-operator"
PART_OF = "neuroedge"
APP_NAME = "neuroedge-runtime"
CREDENTIALS_SECRET = "neuroedge-tenant-credentials"  # noqa: S105 - the Secret's name, not a secret
SERVICE_ACCOUNT = "neuroedge-runtime"
RUNTIME_USER = 10001
CONTAINER = "runtime"
SCRATCH_VOLUME = "tmp"
SCRATCH_PATH = "/tmp"  # noqa: S108 - an emptyDir private to the pod, the only writable path
SCRATCH_LIMIT = "256Mi"


def labels(tenant: str, instance: str, component: str, owner: tuple[str, str]) -> dict[str, str]:
    """The recommended labels plus ours; `owner` is (label key, name) such as (neuroedge.io/engine, x)."""
    return {
        "app.kubernetes.io/name": APP_NAME,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": PART_OF,
        TENANT_LABEL: tenant,
        owner[0]: owner[1],
    }


def selector(component: str, owner: tuple[str, str]) -> dict[str, str]:
    """Immutable Deployment selector: the owner's label plus the component, so an Engine and a WorkerPool of
    the same name never select each other's pods."""
    return {"app.kubernetes.io/component": component, owner[0]: owner[1]}


def selector_string(match: Mapping[str, str]) -> str:
    """A selector in the string form /scale reports (`status.selector`), keys sorted for stability."""
    return ",".join(f"{k}={v}" for k, v in sorted(match.items()))


def metadata(
    name: str, namespace: str, labels_: Mapping[str, str], owner: workload.Identity
) -> dict[str, Any]:
    """Metadata of a child object, owned (and garbage-collected) by the Engine or WorkerPool."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": dict(labels_),
        "ownerReferences": [owner.owner_reference],
    }


def resources(spec: workload.Resources, defaults: workload.Resources | None) -> dict[str, Any]:
    """The spec's resources when it sets any, else the tenant's defaults, else none (the namespace's
    LimitRange then applies). Taken whole, never mixed field by field: mixing could pair a spec limit with a
    larger default request, which the API server rejects."""
    if not spec.empty:
        return spec.as_dict()
    return defaults.as_dict() if defaults is not None else {}


def container_security_context() -> dict[str, Any]:
    """What "restricted" asks of every container, and a read-only root filesystem on top."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_USER,
        "runAsGroup": RUNTIME_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_USER,
        "runAsGroup": RUNTIME_USER,
        "fsGroup": RUNTIME_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def http_probe(path: str, port: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


@dataclass(frozen=True)
class ProbePaths:
    """HTTP paths of the probes: the API serves /health and /ready; a worker serves only /metrics."""

    liveness: str = "/health"
    readiness: str = "/ready"


def probes(port: str, paths: ProbePaths | None = None) -> dict[str, Any]:
    """Liveness (restart a wedged process), readiness (may take traffic), and a startup probe on the liveness
    path so a slow start is not killed by liveness."""
    paths = paths or ProbePaths()
    return {
        "livenessProbe": http_probe(paths.liveness, port, period=10, failures=3),
        "readinessProbe": http_probe(paths.readiness, port, period=5, failures=2),
        "startupProbe": http_probe(paths.liveness, port, period=2, failures=30),
    }


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def secret_volume(name: str, secret: str) -> dict[str, Any]:
    """A Secret as read-only files readable by the runtime's group only (fsGroup), not by everyone."""
    return {"name": name, "secret": {"secretName": secret, "defaultMode": 0o440}}


def env(values: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def tracing_env(
    inherited: Sequence[tuple[str, str]], service: str, namespace: str, tenant: str, owner: tuple[str, str]
) -> list[dict[str, Any]]:
    """The OTEL_* variables of a runtime container: the operator's tracing configuration (`inherited`, empty
    when the operator does not trace: then none at all), the component's service name and resource
    attributes that say whose pod it is (namespace, tenant, and `owner`: the Engine's or WorkerPool's
    attribute and name), after the operator's own. Part of the pod template, so a changed tracing setting
    rolls the pods that must pick it up."""
    if not inherited:
        return []
    values = dict(inherited)
    resource = {"k8s.namespace.name": namespace, "neuroedge.tenant": tenant, owner[0]: owner[1]}
    own = ",".join(f"{key}={value}" for key, value in resource.items())
    values["OTEL_RESOURCE_ATTRIBUTES"] = ",".join(filter(None, (values.get("OTEL_RESOURCE_ATTRIBUTES"), own)))
    values["OTEL_SERVICE_NAME"] = service
    return env(values)


@dataclass(frozen=True)
class ContainerSpec:
    """What differs between the API and worker containers; the rest of the pod is the same for both."""

    image: str
    args: Sequence[str]
    env: Sequence[Mapping[str, Any]]
    ports: Sequence[Mapping[str, Any]]
    probe_port: str
    resources: Mapping[str, Any]
    env_from: Sequence[Mapping[str, Any]] = ()
    mounts: Sequence[Mapping[str, Any]] = ()
    volumes: Sequence[Mapping[str, Any]] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)
    probe_paths: ProbePaths | None = None


def container(spec: ContainerSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["neuroedge-runtime"],
        "args": list(spec.args),
        "env": [dict(e) for e in spec.env],
        "ports": [dict(p) for p in spec.ports],
        "resources": dict(spec.resources),
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": SCRATCH_VOLUME, "mountPath": SCRATCH_PATH}, *map(dict, spec.mounts)],
        **probes(spec.probe_port, spec.probe_paths),
    }
    if spec.env_from:
        body["envFrom"] = [dict(e) for e in spec.env_from]
    return body


def pod_template(
    spec: ContainerSpec, labels_: Mapping[str, str], grace_seconds: int, rollout_inputs: Mapping[str, str]
) -> dict[str, Any]:
    """The pod template, with the spec hash of the template itself and of `rollout_inputs` (content the pods
    read from outside the template, such as config data, which must roll them when it changes)."""
    template: dict[str, Any] = {
        "metadata": {"labels": dict(labels_), "annotations": dict(spec.annotations)},
        "spec": {
            "serviceAccountName": SERVICE_ACCOUNT,
            "automountServiceAccountToken": False,  # the runtime never calls the Kubernetes API
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": grace_seconds,
            "securityContext": pod_security_context(),
            "containers": [container(spec)],
            "volumes": [
                {"name": SCRATCH_VOLUME, "emptyDir": {"sizeLimit": SCRATCH_LIMIT}},
                *map(dict, spec.volumes),
            ],
        },
    }
    template["metadata"]["annotations"][SPEC_HASH_ANNOTATION] = spec_hash(template, rollout_inputs)
    return template


def spec_hash(template: Mapping[str, Any], rollout_inputs: Mapping[str, str]) -> str:
    """A stable hash (key order does not matter) of the template without its own hash, and of the inputs."""
    meta = dict(template.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != SPEC_HASH_ANNOTATION}
    return content_hash(
        {"template": {**template, "metadata": {**meta, "annotations": annotations}}, "inputs": rollout_inputs}
    )


def content_hash(content: Mapping[str, Any]) -> str:
    """sha256 of canonical JSON (sorted keys), shortened: equal content gives an equal hash."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def deployment(
    meta: Mapping[str, Any], match: Mapping[str, str], replicas: int, template: Mapping[str, Any]
) -> dict[str, Any]:
    """A Deployment that rolls one pod at a time and never drops below the wanted replicas while it does."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": dict(meta),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": dict(match)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": dict(template),
        },
    }
