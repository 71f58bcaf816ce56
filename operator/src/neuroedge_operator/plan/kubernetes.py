"""The Kubernetes apply diff: desired manifests vs live objects -> what to apply and what to delete.

An object is applied only when the live one differs in a field we set; fields the API server adds
(defaults, status, managedFields) are ignored and quantities compare by value ("1000m" == "1"). That is
what lets an idle operator make no writes at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neuroedge_operator.resources import quantity

Key = tuple[str, str, str, str]
# A namespace dropped from a Tenant's spec is left alone (its workloads are the user's); it goes only when
# the Tenant itself is deleted (garbage collection through the owner reference).
KEPT_KINDS = frozenset({"Namespace"})  # apiVersion, kind, namespace ("" when cluster-scoped), name


def key(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata", {})
    return (
        str(obj.get("apiVersion")),
        str(obj.get("kind")),
        str(meta.get("namespace") or ""),
        str(meta["name"]),
    )


OMITTED = ("", None)
"""Values the API server leaves out of what it returns (Go's `omitempty`), along with empty maps and lists."""


def _omitted(value: Any) -> bool:
    return value in OMITTED or (isinstance(value, Mapping | list) and not value)


def matches(desired: Any, live: Any) -> bool:
    """Whether every field of `desired` has the same value in `live` (which may have more). A desired empty
    value (an empty string, map or list, or null) matches a field the live object leaves out: the API server
    omits them when it returns the object, so comparing them literally re-applied the object on every pass
    (an Engine without config, an env var set to ""). A map entry whose value is "" is kept by the server,
    so this reads one as absent too; the ConfigMaps we build carry a hash of their data, which differs."""
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(
            matches(v, live[k]) if k in live else _omitted(v) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(matches(d, v) for d, v in zip(desired, live, strict=True))
        )
    if desired == live:
        return True
    return isinstance(desired, str) and isinstance(live, str) and quantity.same(desired, live)


@dataclass(frozen=True)
class ApplyPlan:
    """Objects to server-side apply (in order) and keys of owned objects that are no longer wanted."""

    apply: list[dict[str, Any]]
    delete: list[Key]

    @property
    def empty(self) -> bool:
        return not self.apply and not self.delete


def diff(desired: Sequence[dict[str, Any]], live: Iterable[Mapping[str, Any]]) -> ApplyPlan:
    """Plan for one tenant; `live` holds only objects labelled as this tenant's children."""
    live_by_key = {key(obj): obj for obj in live}
    wanted = {key(obj) for obj in desired}
    to_apply = [obj for obj in desired if not matches(obj, live_by_key.get(key(obj)))]
    to_delete = [
        k
        for k, obj in live_by_key.items()
        if k not in wanted and k[1] not in KEPT_KINDS and not _terminating(obj)
    ]
    return ApplyPlan(apply=to_apply, delete=sorted(to_delete))


def _terminating(obj: Mapping[str, Any]) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def controlled_by_other_kind(obj: Mapping[str, Any], kind: str) -> bool:
    """Whether another kind's object controls `obj`: an Engine's or WorkerPool's children carry the tenant's
    labels too (a KEDA Secret, for instance), but they are not the Tenant's to diff, apply or delete."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(ref.get("controller") and ref.get("kind") != kind for ref in refs)
