"""`make up`'s orchestration (dev/apps.py), its pure parts: which tenants' credentials to read, which pool the
local API sends jobs to, which processes `up` restarts one by one (how the credentials are written for the
API: test_dev_tenant_files.py)."""

from __future__ import annotations

from pathlib import Path

from neuroedge_dev import apps, stack, workers

REPO = Path(__file__).resolve().parents[3]


def test_the_repository_samples_give_one_tenant_its_pool_and_a_worker() -> None:
    manifests = workers.load_manifests(REPO / "crds" / "examples")
    assert apps.sample_tenants(manifests) == {"acme": "acme"}
    assert apps.engine_pool(manifests) == "general"
    planned = workers.plan(manifests, {"acme": "redis://ne-tenant-acme:pw@127.0.0.1:1/0"})
    assert [(w.name, w.env["REDIS_URL"]) for w in planned] == [
        ("runtime-worker-acme-general", "redis://ne-tenant-acme:pw@127.0.0.1:1/0")
    ]


def test_no_engine_with_a_pool_means_no_pool() -> None:
    assert apps.engine_pool([{"kind": "Engine", "spec": {}}, {"kind": "WorkerPool", "spec": {}}]) is None


def test_only_the_stacks_own_daemons_dying_restarts_the_stack() -> None:
    assert stack.is_app("operator") and stack.is_app("runtime-api")
    assert stack.is_app("runtime-worker-acme-general") and stack.is_app(apps.SYNC)
    assert not stack.is_app("postgres") and not stack.is_app("kube-apiserver")
