"""Watch caches: every object of a kind (optionally only those a label selector picks) kept in memory by one
list and then a watch, re-opened from the last resourceVersion, relisted only when the server says the
version is gone (410).

The operator's periodic passes read children and referenced objects from here, so an idle operator makes
no read requests however many tenants it serves. A cache that is not in sync (starting, or after a failure)
answers nothing and the reads go to the API server, exactly as before.

Memory grows with the cluster, so what is kept is trimmed (`compact`): managedFields and kubectl's
last-applied annotation (the bulk of a small object, read by nothing here) are dropped and the keys and short
values, the same few thousand strings in every object, are interned. Objects are indexed by namespace and by
tenant label, so a namespace's or a tenant's children are found without scanning the whole kind (at 1,000
tenants a scan per tenant per pass made every resync quadratic).

A cache can also tell a listener what changed (`Cache.subscribe`), after it has stored the change, so that a
reconcile the listener starts reads the new version from the cache: that is how an Engine's change reaches
the WorkerPool whose pods mount its model, without a request of its own.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import copy
import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from neuroedge_operator.clients import kube
from neuroedge_operator.plan import selectors
from neuroedge_operator.resources import tenant as tenant_model

log = logging.getLogger(__name__)
FAILURES = (kube.ApiError, aiohttp.ClientError, TimeoutError, OSError, ValueError)
MANAGED = "app.kubernetes.io/managed-by=neuroedge-operator"
DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
INTERNED_LENGTH = 64
"""Strings up to this length are interned: names, labels, condition types and reasons, image references."""


Listener = Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], None]
"""Called with (old, new) after a change is stored: None for an object that was absent or is gone. Both are
the cache's own copies: read them, never change them."""


@dataclass(frozen=True)
class Spec:
    """One cached kind, the selector of what is cached ("" = every object of the kind), the top-level
    fields kept (empty = all of them), and whether it answers reads by name."""

    api_version: str
    kind: str
    selector: str = ""
    fields: tuple[str, ...] = ()
    by_name: bool = True
    """False: only lists are answered; a read by name goes to the API server (a step that reads its own
    object before acting wants it fresh, with its status, not a watch copy)."""
    serves_reads: bool = True
    """False for a kind cached only for the periodic loop to walk (its reads still go to the API server)."""


STATUS_ONLY = ("apiVersion", "kind", "metadata", "status")
"""Pods and ReplicaSets are read only for why a workload is not coming up (plan/workload_status.py reads their
labels, names and status): their spec, most of their size, is not kept. A reader of more must widen this."""


CACHED = (
    # Read by name whether or not the operator made them (namespace conflicts, referenced Secrets and
    # ConfigMaps, the Tenant behind a namespace): every object.
    Spec("v1", "Namespace"),
    Spec("v1", "Secret"),
    Spec("v1", "ConfigMap"),
    Spec("neuroedge.io/v1alpha1", "Tenant"),
    # Engines, listed by namespace for the model volumes of their WorkerPools' pods (and watched for the
    # changes that concern those pools), and walked by the periodic loop (whose passes take the cached body,
    # status included); reads by name stay direct.
    Spec("neuroedge.io/v1alpha1", "Engine", by_name=False),
    # The operator's own children (every one carries the managed-by label, pods and ReplicaSets through
    # their template): only those.
    *(
        Spec(api_version, kind, MANAGED)
        for api_version, kind in (
            ("v1", "ResourceQuota"),
            ("v1", "LimitRange"),
            ("networking.k8s.io/v1", "NetworkPolicy"),
            ("v1", "ServiceAccount"),
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            ("v1", "Service"),
            ("apps/v1", "Deployment"),
            ("policy/v1", "PodDisruptionBudget"),
        )
    ),
    Spec("apps/v1", "ReplicaSet", MANAGED, STATUS_ONLY),
    Spec("v1", "Pod", MANAGED, STATUS_ONLY),
    # Walked by the periodic loop (reconcile/periodic.py; Engines, above, too) for the objects whose resync,
    # schedule or autoscale pass is due. WorkerPools also answer the Engines' reference checks (an Engine's
    # resync reads its pool: from the API, that read grew with the number of Engines); the steps that act
    # on a pool itself (autoscale, the owner of a Deployment event, a scheduled run) read it `fresh`.
    Spec("neuroedge.io/v1alpha1", "WorkerPool"),
    Spec("neuroedge.io/v1alpha1", "VectorIndex", serves_reads=False),
)


class GoneError(Exception):
    """The watch's resourceVersion is too old: relist."""


class Informer:
    """One kind's cache; `run()` until cancelled."""

    def __init__(self, client: kube.Kube, spec: Spec, watch_timeout: int) -> None:
        self.spec = spec
        self.requirements = selectors.parse(spec.selector)
        self.synced = asyncio.Event()
        self._kube, self._timeout = client, watch_timeout
        self._objects: dict[str, dict[str, dict[str, Any]]] = {}
        """namespace ("" when cluster-scoped) -> name -> the compacted object."""
        self._by_tenant: dict[str, set[tuple[str, str]]] = {}
        """tenant label value -> the (namespace, name) of the objects that carry it."""
        self.listeners: list[Listener] = []
        self._listed = False

    async def run(self) -> None:
        while True:
            try:
                version = await self._relist()
                self.synced.set()
                while True:
                    version = await self._watch(version)
            except GoneError:
                log.info("%s cache: resourceVersion expired, relisting", self.spec.kind)
            except FAILURES as exc:
                log.warning(
                    "%s cache failed (reads go to the API until it recovers): %s", self.spec.kind, exc
                )
                self.synced.clear()
                await asyncio.sleep(2)

    def __len__(self) -> int:
        return sum(len(names) for names in self._objects.values())

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self._objects.get(namespace, {}).get(name)
        return copy.deepcopy(found) if found is not None else None

    def walk(self) -> list[tuple[str, str, Mapping[str, Any]]]:
        """(namespace, name, object) of every cached object, the objects themselves (not copies: read them,
        never change them)."""
        return [(ns, name, obj) for ns, names in self._objects.items() for name, obj in names.items()]

    def select(self, requirements: selectors.Requirements, namespace: str = "") -> list[dict[str, Any]]:
        return [
            copy.deepcopy(obj)
            for obj in self._candidates(requirements, namespace)
            if selectors.matches(requirements, obj["metadata"].get("labels") or {})
        ]

    def _candidates(self, requirements: selectors.Requirements, namespace: str) -> list[dict[str, Any]]:
        """The objects that may match, in (namespace, name) order: one namespace's, one tenant's, or all."""
        if namespace:
            return [obj for _, obj in sorted(self._objects.get(namespace, {}).items())]
        tenant = requirements.get(tenant_model.TENANT_LABEL)
        if tenant is not None:
            keys = sorted(self._by_tenant.get(tenant, ()))
            return [self._objects[ns][name] for ns, name in keys]
        return [obj for ns in sorted(self._objects) for _, obj in sorted(self._objects[ns].items())]

    def _store(self, obj: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """Keep `obj` in place of its previous version; returns (previous or None, what is kept now)."""
        old = self._forget(obj)
        namespace, name = _key(obj)
        kept = compact(obj, self.spec.fields)
        self._objects.setdefault(namespace, {})[name] = kept
        tenant = _tenant_of(kept)
        if tenant is not None:
            self._by_tenant.setdefault(tenant, set()).add((namespace, name))
        return old, kept

    def _forget(self, obj: Mapping[str, Any]) -> dict[str, Any] | None:
        """Drop the object `obj` names; returns what was kept of it (None when it was absent)."""
        namespace, name = _key(obj)
        names = self._objects.get(namespace, {})
        old = names.pop(name, None)
        if not names:
            self._objects.pop(namespace, None)
        tenant = _tenant_of(old) if old is not None else None
        if tenant is not None:
            keys = self._by_tenant[tenant]
            keys.discard((namespace, name))
            if not keys:
                del self._by_tenant[tenant]
        return old

    def _notify(self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        for listener in self.listeners:
            try:
                listener(old, new)
            except Exception:  # a listener's bug must not stop the cache
                log.exception("%s cache listener failed", self.spec.kind)

    async def _relist(self) -> str:
        """List afresh; listeners hear of every difference from what was kept before (nothing on the first
        list: the reconcilers' own start-up passes see every object then)."""
        items, version = await self._kube.list_versioned(
            self.spec.api_version, self.spec.kind, self.spec.selector
        )
        first, self._listed = not self._listed, True
        previous = self._objects
        self._objects, self._by_tenant = {}, {}
        for obj in items:
            self._store(obj)
        if not first:
            self._announce_differences(previous)
        return version

    def _announce_differences(self, previous: Mapping[str, Mapping[str, dict[str, Any]]]) -> None:
        keys = {(ns, n) for store in (previous, self._objects) for ns, names in store.items() for n in names}
        for namespace, name in sorted(keys):
            old = previous.get(namespace, {}).get(name)
            new = self._objects.get(namespace, {}).get(name)
            if old != new:
                self._notify(old, new)

    async def _watch(self, version: str) -> str:
        events = self._kube.watch(
            self.spec.api_version, self.spec.kind, self.spec.selector, version, self._timeout
        )
        async for kind, obj in events:
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise GoneError
                raise kube.ApiError(int(obj.get("code") or 500), str(obj.get("message", "watch error")))
            version = obj.get("metadata", {}).get("resourceVersion", version)
            if kind == "BOOKMARK":
                continue
            obj.setdefault("apiVersion", self.spec.api_version)
            obj.setdefault("kind", self.spec.kind)
            if kind == "DELETED":
                self._notify(self._forget(obj), None)
            else:
                self._notify(*self._store(obj))
        return version


class Cache:
    """The informers of `CACHED`, answering `Kube`'s reads while they are in sync."""

    def __init__(self, client: kube.Kube, specs: Iterable[Spec] = CACHED, watch_timeout: int = 300) -> None:
        self._informers = {(s.api_version, s.kind): Informer(client, s, watch_timeout) for s in specs}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, wait: float) -> None:
        """Start every informer and wait up to `wait` seconds for them to sync (those that do not yet are
        simply not used until they do)."""
        self._tasks = [
            asyncio.create_task(i.run(), name=f"cache-{i.spec.kind}") for i in self._informers.values()
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await asyncio.gather(*(i.synced.wait() for i in self._informers.values()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def subscribe(self, api_version: str, kind: str, listener: Listener) -> None:
        """Call `listener(old, new)` for every change of a cached kind's objects, once it is stored."""
        self._informers[(api_version, kind)].listeners.append(listener)

    def get(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """(answered, object): answered only by a synced cache of every object of the kind, or by a cache
        of some that holds the object."""
        informer = self._reader(api_version, kind)
        if informer is None or not informer.spec.by_name:
            return False, None
        found = informer.get(namespace, name)
        return (found is not None or not informer.requirements), found

    def list(
        self, api_version: str, kind: str, label_selector: str, namespace: str = ""
    ) -> list[dict[str, Any]] | None:
        """The selected objects, or None when no synced cache holds all of them."""
        informer = self._reader(api_version, kind)
        if informer is None:
            return None
        try:
            query = selectors.parse(label_selector)
        except ValueError:
            return None
        if not selectors.covers(informer.requirements, query):
            return None
        return informer.select(query, namespace)

    def walk(self, api_version: str, kind: str) -> builtins.list[tuple[str, str, Mapping[str, Any]]] | None:
        """(namespace, name, object) of every cached object of the kind (read-only views), or None when the
        kind's cache is not in sync: the periodic loop's view of what exists."""
        informer = self._synced(api_version, kind)
        return informer.walk() if informer is not None else None

    def copy(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of one cached object (None when not cached or not in sync), whether or not the kind's cache
        serves reads: the body of a periodic pass."""
        informer = self._synced(api_version, kind)
        return informer.get(namespace, name) if informer is not None else None

    def _synced(self, api_version: str, kind: str) -> Informer | None:
        informer = self._informers.get((api_version, kind))
        return informer if informer is not None and informer.synced.is_set() else None

    def _reader(self, api_version: str, kind: str) -> Informer | None:
        informer = self._synced(api_version, kind)
        return informer if informer is not None and informer.spec.serves_reads else None


def compact(obj: dict[str, Any], fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """The object as the cache keeps it: only `fields` (all when empty), no managedFields, no last-applied
    annotation, interned strings."""
    if fields:
        obj = {name: value for name, value in obj.items() if name in fields}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for dropped in DROPPED_ANNOTATIONS & annotations.keys():
                del annotations[dropped]
            if not annotations:
                del meta["annotations"]
    interned: dict[str, Any] = _interned(obj)
    return interned


def _interned(value: Any) -> Any:
    if isinstance(value, dict):
        return {sys.intern(k): _interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interned(v) for v in value]
    if isinstance(value, str) and len(value) <= INTERNED_LENGTH:
        return sys.intern(value)
    return value


def _tenant_of(obj: Mapping[str, Any]) -> str | None:
    labels = obj.get("metadata", {}).get("labels") or {}
    tenant = labels.get(tenant_model.TENANT_LABEL)
    return str(tenant) if tenant is not None else None


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return str(meta.get("namespace", "")), str(meta.get("name", ""))
