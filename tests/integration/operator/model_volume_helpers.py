"""Helpers of the operator tests of Engines' pvc:// and configmap:// models: a tenant namespace enforcing Pod
Security "restricted", claims bound to volumes of their own, model ConfigMaps, Engines naming them, and the
model mounts of a pod spec."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from operator_helpers import apply_tenant, kubectl, unique, wait_ready

MOUNT_DIR = "/var/run/neuroedge/models"
HASH = "neuroedge.io/spec-hash"


def tenant(kubeconfig: Path) -> str:
    """A provisioned tenant whose one namespace carries its name, enforcing Pod Security "restricted"."""
    name = unique("pm")
    apply_tenant(kubeconfig, name, {})
    wait_ready(kubeconfig, name)
    kubectl(
        kubeconfig, "label", "--overwrite", "namespace", name, "pod-security.kubernetes.io/enforce=restricted"
    )
    return name


def apply(kubeconfig: Path, *objects: dict[str, Any]) -> None:
    kubectl(
        kubeconfig,
        "apply",
        "-f",
        "-",
        input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )


def custom(kind: str, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "neuroedge.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


def model_engine(namespace: str, name: str, uri: str, pool: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "predictive", "replicas": 1, "model": {"uri": uri}}
    if pool is not None:
        spec["workerPoolRef"] = {"name": pool}
    return custom("Engine", namespace, name, spec)


def claim(namespace: str, name: str) -> list[dict[str, Any]]:
    """A claim bound to a volume of its own (so that the scheduler places pods that mount it)."""
    volume = unique("pv")
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadOnlyMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "hostPath": {"path": f"/models/{volume}"},
                "claimRef": {"namespace": namespace, "name": name},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "accessModes": ["ReadOnlyMany"],
                "storageClassName": "",
                "volumeName": volume,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    ]


def model_map(namespace: str, name: str) -> dict[str, Any]:
    """A ConfigMap holding a model as binaryData (the bytes do not matter to the operator)."""
    meta = {"name": name, "namespace": namespace}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "binaryData": {"model.onnx": "CAcSBHRlc3Q="},
    }


def claim_source(name: str) -> dict[str, Any]:
    """A model claim's mount as `model_mounts` shows it."""
    return {"persistentVolumeClaim": {"claimName": name, "readOnly": True}, "readOnly": True}


def map_source(name: str) -> dict[str, Any]:
    """A model ConfigMap's mount as `model_mounts` shows it (defaultMode: the API's default)."""
    return {"configMap": {"name": name, "defaultMode": 0o644}, "readOnly": True}


def model_mounts(pod_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Mount path -> (the mount's readOnly, its volume's source) of the model volumes of a pod spec."""
    volumes = {v["name"]: {k: x for k, x in v.items() if k != "name"} for v in pod_spec.get("volumes", [])}
    (container,) = pod_spec["containers"]
    return {
        m["mountPath"]: {"readOnly": m.get("readOnly", False), **volumes[m["name"]]}
        for m in container.get("volumeMounts", [])
        if m["mountPath"].startswith(MOUNT_DIR + "/")
    }
