"""`make up` fills the sample knowledge base: the documents in `<VectorIndex name>.documents.json` beside the
sample manifests are ingested into that index through the running API (`POST /vector/ingest`), as the
tenant's admin, and `make up` waits until the job on the sample worker has embedded and stored every chunk.

Ingestion is idempotent (a document's chunks are replaced), so each `make up` may run it again. `plan` is
pure; `ingest` talks to the local API over loopback.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuroedge_dev import procs

SUFFIX = ".documents.json"


@dataclass(frozen=True)
class SampleIngestion:
    """The documents of one sample VectorIndex, for the tenant whose namespace holds it."""

    tenant: str
    namespace: str
    index: str
    documents: Path


def plan(
    directory: Path, manifests: Iterable[Mapping[str, Any]], tenants: Mapping[str, str]
) -> list[SampleIngestion]:
    """An ingestion per sample VectorIndex with a documents file, in a sample tenant's namespace (pure but for
    the files' existence). `tenants`: tenant -> the namespace of its credentials."""
    tenant_of = {namespace: tenant for tenant, namespace in tenants.items()}
    planned = []
    for doc in manifests:
        meta = doc.get("metadata") or {}
        tenant = tenant_of.get(str(meta.get("namespace")))
        documents = directory / f"{meta.get('name')}{SUFFIX}"
        if doc.get("kind") == "VectorIndex" and tenant is not None and documents.exists():
            planned.append(SampleIngestion(tenant, str(meta["namespace"]), str(meta["name"]), documents))
    return planned


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - loopback URLs we build
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise procs.StackError(f"{method} {url}: HTTP {exc.code} {exc.read().decode()[:500]}") from None


def ingest(
    runtime_url: str, job: SampleIngestion, credentials: Mapping[str, str], timeout: float = 180
) -> int:
    """Ingest the sample documents as the tenant's admin and wait until the job is done; the chunks stored."""
    login = {
        "tenant": job.tenant,
        "email": credentials["ADMIN_EMAIL"],
        "password": credentials["ADMIN_PASSWORD"],
    }
    token = _call("POST", f"{runtime_url}/auth/login", login)["access_token"]
    body = {"index": job.index, **json.loads(job.documents.read_text())}
    accepted = _call("POST", f"{runtime_url}/vector/ingest", body, token)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _call("GET", f"{runtime_url}/vector/ingest/{accepted['id']}", token=token)
        if state["status"] == "succeeded":
            return int(state.get("chunks_done", 0))
        if state["status"] != "running":
            raise procs.StackError(f"ingestion into {job.index} ended {state['status']}: {state}")
        time.sleep(0.2)
    raise procs.StackError(
        f"ingestion into {job.index} not done in {timeout:g}s (is the sample worker running?)"
    )
