"""The volume a pvc:// or configmap:// model is on, and what its absence means for an Engine and its pool.

Kubernetes mounts a volume only when its PersistentVolumeClaim or ConfigMap exists: a pod that names a
missing one stays Pending (unschedulable, or ContainerCreating with FailedMount), so a Deployment rolling to
it stalls without a word on the Engine. The operator therefore reads the named object (by name, in the
Engine's namespace) before it builds pods that mount it:

- the Engine reports it (`ModelReady=False`, `Ready=False`, `Degraded=True`, reason `ModelVolumeNotFound`)
  and holds its children as they are (handlers/engine.py says why);
- a WorkerPool leaves the volume out of its pods (`pool_models.served_models`), so that one Engine's bad URI
  never stalls the pool every other Engine it serves depends on.

Both recover by themselves: on every pass (the resync at worst), and for a ConfigMap, which the operator
already watches, as soon as it is created (`appeared_or_gone`).

Pure: the handlers read the objects and pass in what exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from neuroedge_operator.plan import workload_status
from neuroedge_operator.resources import conditions
from neuroedge_operator.resources import engine as engine_model

CLAIM = "PersistentVolumeClaim"
CONFIG_MAP = "ConfigMap"
KINDS = {"pvc": CLAIM, "configmap": CONFIG_MAP}
"""The URI scheme -> the kind of object its volume is (both in API group "" v1)."""


@dataclass(frozen=True)
class Volume:
    """The object a model's volume is made from, in the namespace of the Engine naming it."""

    kind: str
    name: str


def of(model: engine_model.ModelSource | None) -> Volume | None:
    """The volume of a pvc:// or configmap:// model; None for a downloaded one (or no model)."""
    if model is None or model.scheme not in KINDS:
        return None
    return Volume(KINDS[model.scheme], model.volume)


def not_found_message(volume: Volume, namespace: str, uri: str) -> str:
    """What a user reads on the Engine: which object is missing where, what the operator does meanwhile."""
    return (
        f"{volume.kind} {volume.name!r} does not exist in namespace {namespace!r} (spec.model.uri {uri}): "
        "the Engine's pods are left as they are (a previous model keeps serving) and its WorkerPool does not "
        f"mount it, until the {volume.kind} is created"
    )


def not_found(
    volume: Volume, namespace: str, uri: str
) -> tuple[conditions.Condition, workload_status.Blocker]:
    """ModelReady=False, and the blocker that makes Ready False (and Degraded True) with the same reason."""
    message = not_found_message(volume, namespace, uri)
    blocker = workload_status.Blocker(conditions.MODEL_VOLUME_NOT_FOUND, message)
    return conditions.model_volume_not_found(message), blocker


def appeared_or_gone(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """(namespace, name) of an object a watch says was created or deleted; None for an update (which changes
    no volume's existence) or nothing."""
    if (old is None) == (new is None):
        return None
    meta = (new if new is not None else old or {}).get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def naming(engines: Iterable[Mapping[str, Any]], volume: Volume) -> list[str]:
    """Names of the Engines (raw bodies, of one namespace) whose spec.model.uri is on `volume`: read from the
    raw body, so that a watch event of an unrelated object parses nothing."""
    schemes = [scheme for scheme, kind in KINDS.items() if kind == volume.kind]
    prefixes = tuple(f"{scheme}://{volume.name}/" for scheme in schemes)
    found = []
    for body in engines:
        uri = ((body.get("spec") or {}).get("model") or {}).get("uri")
        if isinstance(uri, str) and uri.startswith(prefixes):
            found.append(str(body["metadata"]["name"]))
    return sorted(found)
