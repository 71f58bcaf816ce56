"""An async Kubernetes client over aiohttp, with the credentials the `kubernetes` package's config loaders
give us (kubeconfig or in-cluster). It never blocks the event loop, and every write goes through
server-side apply under one field manager, counted in the operator's metrics.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
import kubernetes

from neuroedge_operator import metrics, tracing
from neuroedge_operator.clients import fence

FIELD_MANAGER = "neuroedge-operator"


@dataclass(frozen=True)
class Kind:
    """Where a kind lives in the API."""

    prefix: str
    plural: str
    namespaced: bool


KINDS: Mapping[tuple[str, str], Kind] = {
    ("v1", "Namespace"): Kind("/api/v1", "namespaces", False),
    ("v1", "ResourceQuota"): Kind("/api/v1", "resourcequotas", True),
    ("v1", "LimitRange"): Kind("/api/v1", "limitranges", True),
    ("v1", "ServiceAccount"): Kind("/api/v1", "serviceaccounts", True),
    ("v1", "Secret"): Kind("/api/v1", "secrets", True),
    ("v1", "Event"): Kind("/api/v1", "events", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): Kind("/apis/networking.k8s.io/v1", "networkpolicies", True),
    ("rbac.authorization.k8s.io/v1", "Role"): Kind("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): Kind(
        "/apis/rbac.authorization.k8s.io/v1", "rolebindings", True
    ),
    ("neuroedge.io/v1alpha1", "Tenant"): Kind("/apis/neuroedge.io/v1alpha1", "tenants", False),
    ("neuroedge.io/v1alpha1", "VectorIndex"): Kind("/apis/neuroedge.io/v1alpha1", "vectorindexes", True),
    ("neuroedge.io/v1alpha1", "Engine"): Kind("/apis/neuroedge.io/v1alpha1", "engines", True),
    ("neuroedge.io/v1alpha1", "WorkerPool"): Kind("/apis/neuroedge.io/v1alpha1", "workerpools", True),
    ("v1", "ConfigMap"): Kind("/api/v1", "configmaps", True),
    ("v1", "PersistentVolumeClaim"): Kind("/api/v1", "persistentvolumeclaims", True),
    ("v1", "Service"): Kind("/api/v1", "services", True),
    ("v1", "Pod"): Kind("/api/v1", "pods", True),
    ("apps/v1", "Deployment"): Kind("/apis/apps/v1", "deployments", True),
    ("apps/v1", "ReplicaSet"): Kind("/apis/apps/v1", "replicasets", True),
    ("policy/v1", "PodDisruptionBudget"): Kind("/apis/policy/v1", "poddisruptionbudgets", True),
    ("keda.sh/v1alpha1", "ScaledObject"): Kind("/apis/keda.sh/v1alpha1", "scaledobjects", True),
    ("keda.sh/v1alpha1", "TriggerAuthentication"): Kind(
        "/apis/keda.sh/v1alpha1", "triggerauthentications", True
    ),
    ("coordination.k8s.io/v1", "Lease"): Kind("/apis/coordination.k8s.io/v1", "leases", True),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): Kind(
        "/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", False
    ),
}


class ApiError(Exception):
    """A Kubernetes API error with its status code and the server's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def path(api_version: str, kind: str, namespace: str = "", name: str = "") -> str:
    """The REST path of a collection (no name) or an object; cluster-wide when `namespace` is empty."""
    spec = KINDS[(api_version, kind)]
    base = spec.prefix
    if spec.namespaced and namespace:
        base += f"/namespaces/{quote(namespace, safe='')}"
    base += f"/{spec.plural}"
    return f"{base}/{quote(name, safe='')}" if name else base


class ReadCache(Protocol):
    """What answers reads from memory (clients.informer.Cache); a method returning "not answered" sends
    the read to the API server."""

    def get(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> tuple[bool, dict[str, Any] | None]:
        """(answered, object)."""

    def list(
        self, api_version: str, kind: str, label_selector: str, namespace: str = ""
    ) -> builtins.list[dict[str, Any]] | None:
        """The selected objects, or None when not answered."""


class Kube:
    """The operator's API client; create with `await Kube.connect()`, close with `close()`."""

    def __init__(self, host: str, session: aiohttp.ClientSession, headers: Mapping[str, str]) -> None:
        self._host = host.rstrip("/")
        self._session = session
        self._headers = dict(headers)
        self.cache: ReadCache | None = None
        """Watch caches that answer reads when they can (set by the reconcile context)."""

    @classmethod
    async def connect(cls, kubeconfig: str | None = None) -> Kube:
        """Load credentials like kopf does: in-cluster when available, else the kubeconfig."""
        config = await asyncio.to_thread(_load_config, kubeconfig)
        context = ssl.create_default_context(cafile=config.ssl_ca_cert) if config.verify_ssl else None
        if context is None:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if config.cert_file:
            context.load_cert_chain(config.cert_file, config.key_file)
        headers = {}
        token = config.api_key.get("authorization") or config.api_key.get("BearerToken")
        if token:
            headers["Authorization"] = token if token.startswith("Bearer ") else f"Bearer {token}"
        # `sock_connect`, not `connect`: the latter also counts waiting for a free pooled connection.
        timeout = aiohttp.ClientTimeout(total=60, sock_connect=5)
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=20),
            timeout=timeout,
            trace_configs=tracing.client_trace_configs(),  # spans of our API calls when tracing is on
        )
        return cls(config.host, session, headers)

    async def close(self) -> None:
        await self._session.close()

    async def _request(
        self,
        method: str,
        url: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        *,
        fenced: bool = True,
    ) -> Any:
        """One request; every method but GET is a write and passes the leader fence first (the Lease's own
        writes are the only unfenced ones)."""
        if fenced and method != "GET":
            fence.FENCE.check(f"{method} {url}")
        data = json.dumps(body) if body is not None else None
        headers = {**self._headers, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        async with self._session.request(
            method, self._host + url, data=data, params=params, headers=headers
        ) as r:
            text = await r.text()
            if r.status >= 400:
                try:
                    message = json.loads(text).get("message", text)
                except ValueError:
                    message = text
                raise ApiError(r.status, message)
            return json.loads(text) if text else None

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str = "", fresh: bool = False
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist (from the watch cache when it holds the kind, unless
        `fresh`: a step about to act on the object itself, which a cache may show a moment behind our own
        writes)."""
        if self.cache is not None and not fresh:
            answered, found = self.cache.get(api_version, kind, namespace, name)
            if answered:
                return found
        try:
            result: dict[str, Any] = await self._request("GET", path(api_version, kind, namespace, name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return result

    async def list(self, api_version: str, kind: str, label_selector: str) -> list[dict[str, Any]]:
        """Objects of a kind across all namespaces matching the selector (items carry kind/apiVersion)."""
        cached = self.cache.list(api_version, kind, label_selector) if self.cache is not None else None
        if cached is not None:
            return cached
        result = await self._request("GET", path(api_version, kind), params={"labelSelector": label_selector})
        items: list[dict[str, Any]] = result.get("items", [])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    async def list_in(
        self, api_version: str, kind: str, namespace: str, label_selector: str, fresh: bool = False
    ) -> builtins.list[dict[str, Any]]:
        """Objects of a kind in one namespace matching the selector (items carry kind/apiVersion); `fresh`
        asks the API server even when a watch cache could answer (a decision that must not miss an object
        created a moment ago)."""
        if self.cache is not None and not fresh:
            cached = self.cache.list(api_version, kind, label_selector, namespace)
            if cached is not None:
                return cached
        url = path(api_version, kind, namespace)
        result = await self._request("GET", url, params={"labelSelector": label_selector})
        items: builtins.list[dict[str, Any]] = result.get("items", [])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    async def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply under the operator's field manager (forcing ownership of our fields)."""
        meta = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])
        params = {"fieldManager": FIELD_MANAGER, "force": "true"}
        result: dict[str, Any] = await self._request(
            "PATCH", url, obj, params, content_type="application/apply-patch+yaml"
        )
        metrics.API_WRITES.labels("apply", obj["kind"]).inc()
        return result

    async def delete(self, api_version: str, kind: str, name: str, namespace: str = "") -> bool:
        """Delete (background propagation); returns False when it was already gone."""
        try:
            await self._request(
                "DELETE", path(api_version, kind, namespace, name), {"propagationPolicy": "Background"}
            )
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        metrics.API_WRITES.labels("delete", kind).inc()
        return True

    async def patch_status(
        self, api_version: str, kind: str, name: str, status: Mapping[str, Any], namespace: str = ""
    ) -> None:
        """Merge-patch the status subresource of an object (cluster-scoped when `namespace` is empty)."""
        url = path(api_version, kind, namespace, name) + "/status"
        await self._request("PATCH", url, {"status": status}, content_type="application/merge-patch+json")
        metrics.API_WRITES.labels("patch", f"{kind}/status").inc()

    async def patch_scale(
        self, api_version: str, kind: str, name: str, replicas: int, namespace: str
    ) -> None:
        """Set spec.replicas through the /scale subresource (what `kubectl scale`, HPA and KEDA write)."""
        url = path(api_version, kind, namespace, name) + "/scale"
        body = {"spec": {"replicas": replicas}}
        await self._request("PATCH", url, body, content_type="application/merge-patch+json")
        metrics.API_WRITES.labels("patch", f"{kind}/scale").inc()

    async def event(
        self, involved: Mapping[str, Any], kind: str, reason: str, message: str, now: str
    ) -> None:
        """Record a Kubernetes Event about `involved` (cluster-scoped objects' events go to `default`)."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "uid": meta.get("uid", ""),
                **({"namespace": meta["namespace"]} if meta.get("namespace") else {}),
            },
            "type": kind,
            "reason": reason,
            "message": message[:1000],
            "source": {"component": FIELD_MANAGER},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        await self._request("POST", path("v1", "Event", namespace), body)
        metrics.API_WRITES.labels("create", "Event").inc()

    async def put_unfenced(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Replace an object (conditional on the resourceVersion it carries), past the leader fence: only the
        leader election's own Lease writes use it."""
        meta = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])
        result: dict[str, Any] = await self._request("PUT", url, obj, fenced=False)
        metrics.LEASE_WRITES.labels("update").inc()
        return result

    async def create_unfenced(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create an object (409 when it exists), past the leader fence: for the Lease only."""
        meta = obj["metadata"]
        url = path(obj["apiVersion"], obj["kind"], meta.get("namespace", ""))
        result: dict[str, Any] = await self._request("POST", url, obj, fenced=False)
        metrics.LEASE_WRITES.labels("create").inc()
        return result

    async def list_versioned(
        self, api_version: str, kind: str, label_selector: str
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """Every object of a kind cluster-wide matching the selector, read from the API server (never the
        cache: this is how a cache is filled), and the list's resourceVersion to watch from."""
        params = {"labelSelector": label_selector} if label_selector else None
        result = await self._request("GET", path(api_version, kind), params=params)
        items: builtins.list[dict[str, Any]] = result.get("items", [])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items, str(result.get("metadata", {}).get("resourceVersion", ""))

    async def watch(
        self, api_version: str, kind: str, label_selector: str, resource_version: str, server_timeout: int
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(type, object) events of a kind cluster-wide after `resource_version`, with bookmarks, until the
        server ends the watch after `server_timeout` seconds."""
        params = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(server_timeout),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        async for event in self._stream(path(api_version, kind), params, server_timeout):
            yield event

    async def _stream(
        self, url: str, params: Mapping[str, str], server_timeout: int
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        timeouts = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=server_timeout + 30)
        headers = {**self._headers, "Accept": "application/json"}
        async with self._session.get(self._host + url, params=params, headers=headers, timeout=timeouts) as r:
            if r.status >= 400:
                raise ApiError(r.status, await r.text())
            async for line in r.content:
                if line.strip():
                    event = json.loads(line)
                    yield str(event.get("type", "")), dict(event.get("object") or {})

    async def watch_named(
        self, api_version: str, kind: str, name: str, namespace: str, server_timeout: int
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(type, object) events of one named object, starting with its current state (an initial ADDED),
        until the server ends the watch after `server_timeout` seconds. The name goes into a field selector,
        so RBAC may scope list and watch to that one name."""
        params = {
            "watch": "true",
            "fieldSelector": f"metadata.name={name}",
            "timeoutSeconds": str(server_timeout),
        }
        async for event in self._stream(path(api_version, kind, namespace), params, server_timeout):
            yield event


def _load_config(kubeconfig: str | None) -> Any:
    config = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=config
        )
    return config
