"""The VectorIndex reconciler with the Qdrant backend, in process: the reconcile function itself, driven
against the real Kubernetes API (objects, namespace labels, status, events) and the real PostgreSQL
(registry row, tenant), with qdrant-client's local mode (`location=":memory:"`) as the Qdrant.

Local mode keeps no payload schema (`payload_schema` is always empty) and ignores HNSW and on-disk updates
(`hnsw_config` always reads m=16, ef_construct=100). `ServerLikeLocalQdrant` below records those three the
way a server reports them back, so that the reconciler's observe -> plan -> apply loop can be checked; what a
real server does with them (building payload indexes, rebuilding HNSW, moving vectors to disk, API keys) is
not exercised here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from operator_helpers import apply_tenant, get, kubectl
from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

from neuroedge_operator.builders import pgvector
from neuroedge_operator.clients import kube, postgres, vector_store
from neuroedge_operator.clients import qdrant as qdrant_client
from neuroedge_operator.clients import redis as redis_client
from neuroedge_operator.handlers import tenant as tenant_handlers
from neuroedge_operator.handlers import vectorindex as handlers
from neuroedge_operator.reconcile.context import Context
from neuroedge_operator.settings import from_env

pytestmark = [
    pytest.mark.cluster,
    # local mode warns that payload indexes do nothing there: known, see the module docstring
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant"),
]


class ServerLikeLocalQdrant(AsyncQdrantClient):
    """Local mode that reports payload indexes, HNSW parameters and on-disk back as a server would."""

    def __init__(self) -> None:
        super().__init__(location=":memory:")
        self.schema: dict[str, dict[str, qm.PayloadSchemaType]] = {}
        self.hnsw: dict[str, tuple[int, int]] = {}
        self.on_disk: dict[str, bool] = {}

    async def create_collection(self, collection_name: str, **kwargs: Any) -> bool:
        created = await super().create_collection(collection_name, **kwargs)
        hnsw, vectors = kwargs.get("hnsw_config"), kwargs["vectors_config"]
        self.hnsw[collection_name] = (hnsw.m, hnsw.ef_construct) if hnsw else (16, 100)
        self.on_disk[collection_name] = bool(vectors.on_disk)
        self.schema[collection_name] = {}
        return bool(created)

    async def create_payload_index(self, collection_name: str, field_name: str, **kwargs: Any) -> Any:
        result = await super().create_payload_index(collection_name, field_name, **kwargs)
        schema = kwargs["field_schema"]
        kind = qm.PayloadSchemaType(schema.type.value) if hasattr(schema, "type") else schema
        self.schema[collection_name][field_name] = kind
        return result

    async def delete_payload_index(self, collection_name: str, field_name: str, **kwargs: Any) -> Any:
        result = await super().delete_payload_index(collection_name, field_name, **kwargs)
        self.schema[collection_name].pop(field_name, None)
        return result

    async def update_collection(self, collection_name: str, **kwargs: Any) -> bool:
        hnsw, vectors = kwargs.pop("hnsw_config", None), kwargs.pop("vectors_config", None)
        await super().update_collection(collection_name, **kwargs)
        if hnsw is not None:
            old = self.hnsw[collection_name]
            self.hnsw[collection_name] = (hnsw.m or old[0], hnsw.ef_construct or old[1])
        if vectors is not None:
            self.on_disk[collection_name] = bool(vectors[""].on_disk)
        return True

    async def get_collection(self, collection_name: str, **kwargs: Any) -> qm.CollectionInfo:
        info = await super().get_collection(collection_name, **kwargs)
        info.payload_schema = {
            key: qm.PayloadIndexInfo(data_type=kind, points=0)
            for key, kind in self.schema[collection_name].items()
        }
        info.config.hnsw_config.m, info.config.hnsw_config.ef_construct = self.hnsw[collection_name]
        assert isinstance(info.config.params.vectors, qm.VectorParams)
        info.config.params.vectors.on_disk = self.on_disk[collection_name]
        return info


@pytest.fixture
async def qdrant() -> AsyncIterator[ServerLikeLocalQdrant]:
    client = ServerLikeLocalQdrant()
    yield client
    await client.close()


@pytest.fixture
async def ctx(
    kubeconfig: Path, database_url: str, redis_url: str, qdrant: ServerLikeLocalQdrant
) -> AsyncIterator[Context]:
    settings = from_env(
        {
            "NEUROEDGE_DATABASE_URL": database_url,
            "NEUROEDGE_REDIS_URL": redis_url,
            "NEUROEDGE_RESYNC_INTERVAL": "2",
        }
    )
    db = postgres.Database(database_url)
    context = Context(
        settings=settings,
        kube=await kube.Kube.connect(str(kubeconfig)),
        db=db,
        cache=redis_client.Cache(redis_url),
        vectors=vector_store.Backends(qdrant=qdrant_client.QdrantBackend(qdrant)),
    )
    yield context
    await context.kube.close()
    await context.db.close()
    await context.cache.close()


@pytest.fixture
async def tenant(ctx: Context, kubeconfig: Path) -> str:
    """A tenant provisioned by the Tenant reconcile, run in process too."""
    name = f"vq-{uuid.uuid4().hex[:6]}"
    apply_tenant(kubeconfig, name, {"namespaces": [name]})
    body = await ctx.kube.get("neuroedge.io/v1alpha1", "Tenant", name)
    assert body is not None
    await tenant_handlers.reconcile(ctx, body)
    return name


def apply_index(kubeconfig: Path, namespace: str, name: str, **spec: Any) -> None:
    body = {
        "apiVersion": "neuroedge.io/v1alpha1",
        "kind": "VectorIndex",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"backend": "qdrant", "dimension": 4, **spec},
    }
    kubectl(kubeconfig, "apply", "-f", "-", input_text=json.dumps(body))


async def reconcile(ctx: Context, namespace: str, name: str) -> handlers.Outcome:
    body = await ctx.kube.get("neuroedge.io/v1alpha1", "VectorIndex", name, namespace)
    assert body is not None
    return await handlers.reconcile(ctx, body)


def status(kubeconfig: Path, namespace: str, name: str) -> dict[str, Any]:
    return dict(get(kubeconfig, "vectorindex", name, "-n", namespace).get("status") or {})


def condition(kubeconfig: Path, namespace: str, name: str, kind: str = "Ready") -> dict[str, Any]:
    return next(c for c in status(kubeconfig, namespace, name)["conditions"] if c["type"] == kind)


async def test_collection_is_created_from_the_spec_and_registered(
    ctx: Context, tenant: str, kubeconfig: Path, qdrant: ServerLikeLocalQdrant, admin_db: asyncpg.Connection
) -> None:
    apply_index(
        kubeconfig,
        tenant,
        "kb",
        distance="Dot",
        hnsw={"m": 32},
        payloadIndexes=[{"field": "lang", "type": "keyword"}],
    )
    outcome = await reconcile(ctx, tenant, "kb")
    assert outcome.ready, outcome.conditions
    collection = pgvector.storage_name(tenant, "kb")
    info = await qdrant.get_collection(collection)
    vectors = info.config.params.vectors
    assert isinstance(vectors, qm.VectorParams) and (vectors.size, vectors.distance) == (4, qm.Distance.DOT)
    assert qdrant.hnsw[collection] == (32, 100)
    assert set(qdrant.schema[collection]) == {"tenant_id", "data.lang"}
    row = await admin_db.fetchrow(
        "SELECT backend, dimension, distance, storage_name FROM neuroedge.vector_indexes "
        "WHERE tenant_id = $1",
        tenant,
    )
    assert dict(row) == {"backend": "qdrant", "dimension": 4, "distance": "Dot", "storage_name": collection}
    assert condition(kubeconfig, tenant, "kb")["status"] == "True"
    assert status(kubeconfig, tenant, "kb")["storageName"] == collection
    # A second pass changes nothing; a new point shows in the count.
    await qdrant.upsert(
        collection, [qm.PointStruct(id=1, vector=[1, 0, 0, 0], payload={"tenant_id": tenant})]
    )
    again = await reconcile(ctx, tenant, "kb")
    assert again.actions == () and again.point_count == 1
    assert status(kubeconfig, tenant, "kb")["pointCount"] == 1


async def test_payload_hnsw_and_on_disk_changes_are_applied_in_place(
    ctx: Context, tenant: str, kubeconfig: Path, qdrant: ServerLikeLocalQdrant
) -> None:
    apply_index(kubeconfig, tenant, "kb", payloadIndexes=[{"field": "lang", "type": "keyword"}])
    await reconcile(ctx, tenant, "kb")
    collection = pgvector.storage_name(tenant, "kb")
    await qdrant.upsert(
        collection, [qm.PointStruct(id=7, vector=[0, 1, 0, 0], payload={"tenant_id": tenant})]
    )
    apply_index(
        kubeconfig,
        tenant,
        "kb",
        hnsw={"m": 8, "efConstruct": 50},
        onDisk=True,
        payloadIndexes=[{"field": "lang", "type": "text"}, {"field": "price", "type": "float"}],
    )
    outcome = await reconcile(ctx, tenant, "kb")
    assert [(a.kind, a.index.field if a.index else None) for a in outcome.actions] == [
        ("rebuild_hnsw", None),
        ("set_on_disk", None),
        ("drop_payload_index", "lang"),
        ("create_payload_index", "lang"),
        ("create_payload_index", "price"),
    ]
    assert qdrant.schema[collection] == {
        "tenant_id": qm.PayloadSchemaType.KEYWORD,
        "data.lang": qm.PayloadSchemaType.TEXT,
        "data.price": qm.PayloadSchemaType.FLOAT,
    }
    assert qdrant.hnsw[collection] == (8, 50) and qdrant.on_disk[collection]
    assert (await qdrant.count(collection)).count == 1  # nothing recreated
    assert (await reconcile(ctx, tenant, "kb")).actions == ()


async def test_collection_deleted_by_hand_is_recreated_with_a_warning(
    ctx: Context, tenant: str, kubeconfig: Path, qdrant: ServerLikeLocalQdrant
) -> None:
    apply_index(kubeconfig, tenant, "kb")
    await reconcile(ctx, tenant, "kb")
    collection = pgvector.storage_name(tenant, "kb")
    await qdrant.delete_collection(collection)
    outcome = await reconcile(ctx, tenant, "kb")
    assert outcome.recreated and outcome.ready and await qdrant.collection_exists(collection)
    events = get(kubeconfig, "events", "-n", tenant, "--field-selector", "involvedObject.name=kb")["items"]
    warning = next(e for e in events if e["reason"] == "StorageRecreated")
    assert warning["type"] == "Warning" and "recreated empty" in warning["message"]


async def test_deletion_drops_or_keeps_the_collection_per_reclaim_policy(
    ctx: Context, tenant: str, kubeconfig: Path, qdrant: ServerLikeLocalQdrant, admin_db: asyncpg.Connection
) -> None:
    for name, policy, kept in (("keep", "Retain", True), ("gone", "Delete", False)):
        apply_index(kubeconfig, tenant, name, reclaimPolicy=policy)
        await reconcile(ctx, tenant, name)
        body = await ctx.kube.get("neuroedge.io/v1alpha1", "VectorIndex", name, tenant)
        assert body is not None
        await handlers.remove(ctx, body)
        assert await qdrant.collection_exists(pgvector.storage_name(tenant, name)) is kept
        registered = await admin_db.fetchval(
            "SELECT count(*) FROM neuroedge.vector_indexes WHERE tenant_id = $1 AND name = $2", tenant, name
        )
        assert registered == 0


async def test_diverged_collection_is_degraded_and_left_alone(
    ctx: Context, tenant: str, kubeconfig: Path, qdrant: ServerLikeLocalQdrant
) -> None:
    collection = pgvector.storage_name(tenant, "old")
    await qdrant.create_collection(
        collection, vectors_config=qm.VectorParams(size=8, distance=qm.Distance.COSINE)
    )
    await qdrant.upsert(collection, [qm.PointStruct(id=1, vector=[1.0] * 8, payload={"tenant_id": tenant})])
    apply_index(kubeconfig, tenant, "old")  # dimension 4
    outcome = await reconcile(ctx, tenant, "old")
    assert not outcome.ready and outcome.actions == ()
    assert condition(kubeconfig, tenant, "old")["reason"] == "SpecDiverged"
    degraded = condition(kubeconfig, tenant, "old", "Degraded")
    assert degraded["status"] == "True" and "dimension is 4 in the spec but 8" in degraded["message"]
    assert (await qdrant.count(collection)).count == 1


async def test_qdrant_index_without_a_configured_qdrant_reports_backend_unavailable(
    ctx: Context, tenant: str, kubeconfig: Path
) -> None:
    ctx.vectors = vector_store.Backends()
    apply_index(kubeconfig, tenant, "kb")
    outcome = await reconcile(ctx, tenant, "kb")
    assert not outcome.ready
    ready = condition(kubeconfig, tenant, "kb")
    assert ready["reason"] == "BackendUnavailable" and "NEUROEDGE_QDRANT_URL" in ready["message"]
    events = get(kubeconfig, "events", "-n", tenant, "--field-selector", "involvedObject.name=kb")["items"]
    announced = {(e["type"], e["reason"], e["message"].split(":")[0]) for e in events}
    # The one status path: Degraded names the problem as a Warning; Ready is the summary, never a Warning.
    assert ("Warning", "BackendUnavailable", "Degraded") in announced
    assert ("Normal", "BackendUnavailable", "Ready") in announced
    assert not any(e["type"] == "Warning" and e["message"].startswith("Ready") for e in events)


async def test_deletion_reads_a_spec_that_no_longer_validates_leniently(
    ctx: Context, tenant: str, kubeconfig: Path, qdrant: ServerLikeLocalQdrant, admin_db: asyncpg.Connection
) -> None:
    """An object whose spec an older or newer CRD let through (here: edited in the body kopf hands over)
    is still removed as its reclaim policy says."""
    apply_index(kubeconfig, tenant, "stale", reclaimPolicy="Delete")
    assert (await reconcile(ctx, tenant, "stale")).ready
    body = await ctx.kube.get("neuroedge.io/v1alpha1", "VectorIndex", "stale", tenant)
    assert body is not None
    body["spec"].update({"dimension": "four", "distance": "Manhattan", "payloadIndexes": "none"})
    await handlers.remove(ctx, body)
    assert not await qdrant.collection_exists(pgvector.storage_name(tenant, "stale"))
    registered = await admin_db.fetchval(
        "SELECT count(*) FROM neuroedge.vector_indexes WHERE tenant_id = $1 AND name = 'stale'", tenant
    )
    assert registered == 0
