"""`make up` plans one local worker per sample WorkerPool, with the pool's queue settings."""

from __future__ import annotations

from pathlib import Path

from neuroedge_dev import workers

SAMPLES = """
apiVersion: neuroedge.io/v1alpha1
kind: Tenant
metadata: {name: acme}
spec: {namespaces: [acme, acme-batch]}
---
apiVersion: neuroedge.io/v1alpha1
kind: WorkerPool
metadata: {name: general, namespace: acme}
spec:
  concurrency: 8
  queue: {maxDeliveries: 5, claimIdleSeconds: 30, retryBackoff: {initialSeconds: 2, maxSeconds: 300}}
---
apiVersion: neuroedge.io/v1alpha1
kind: WorkerPool
metadata: {name: nightly, namespace: acme-batch}
spec: {}
---
apiVersion: neuroedge.io/v1alpha1
kind: WorkerPool
metadata: {name: orphan, namespace: nobody}
spec: {concurrency: 1}
---
apiVersion: neuroedge.io/v1alpha1
kind: Engine
metadata: {name: support-assistant, namespace: acme}
"""


def test_one_worker_per_pool_of_a_known_tenant(tmp_path: Path) -> None:
    (tmp_path / "samples.yaml").write_text(SAMPLES)
    planned = workers.plan(workers.load_manifests(tmp_path), {"acme": "redis://x"})
    assert [w.name for w in planned] == ["runtime-worker-acme-general", "runtime-worker-acme-batch-nightly"]
    assert planned[0].env == {
        "REDIS_URL": "redis://x",
        "NEUROEDGE_TENANT": "acme",
        "NEUROEDGE_POOL": "general",
        "NEUROEDGE_CONSUMER": "dev-acme-general",
        "NEUROEDGE_CONCURRENCY": "8",
        "NEUROEDGE_MAX_DELIVERIES": "5",
        "NEUROEDGE_CLAIM_IDLE_SECONDS": "30",
        "NEUROEDGE_RETRY_BASE_SECONDS": "2",
        "NEUROEDGE_RETRY_CAP_SECONDS": "300",
    }
    assert planned[1].env["NEUROEDGE_TENANT"] == "acme" and "NEUROEDGE_CONCURRENCY" not in planned[1].env


def test_no_examples_directory_starts_nothing(tmp_path: Path) -> None:
    assert workers.plan([], {"acme": "redis://x"}) == []
    assert workers.load_manifests(tmp_path) == []


def test_a_pool_of_a_tenant_without_credentials_is_not_planned(tmp_path: Path) -> None:
    (tmp_path / "samples.yaml").write_text(SAMPLES)
    assert workers.plan(workers.load_manifests(tmp_path), {"other": "redis://x"}) == []
