"""`make up`'s orchestration (dev/apps.py), its pure parts: which tenants' credentials to read, which pool the
local API sends jobs to, and how the credentials are written for the API."""

from __future__ import annotations

import stat
from pathlib import Path

from neuroedge_dev import apps, stack, workers

REPO = Path(__file__).resolve().parents[2]


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


def test_credentials_are_private_files_rewritten_only_on_change(tmp_path: Path) -> None:
    root = tmp_path / "credentials"
    apps.write_credentials(root, "acme", {"TENANT": "acme", "ADMIN_PASSWORD": "s3cret"})
    secret = root / "acme" / "ADMIN_PASSWORD"
    assert secret.read_text() == "s3cret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "acme").stat().st_mode) == 0o700 == stat.S_IMODE(root.stat().st_mode)
    before = secret.stat().st_ino
    apps.write_credentials(root, "acme", {"TENANT": "acme", "ADMIN_PASSWORD": "s3cret"})
    assert secret.stat().st_ino == before  # unchanged: not replaced
    apps.write_credentials(root, "acme", {"TENANT": "acme", "ADMIN_PASSWORD": "rotated"})
    assert secret.read_text() == "rotated" and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert sorted(p.name for p in (root / "acme").iterdir()) == ["ADMIN_PASSWORD", "TENANT"]


def test_only_the_stacks_own_daemons_dying_restarts_the_stack() -> None:
    assert stack.is_app("operator") and stack.is_app("runtime-api")
    assert stack.is_app("runtime-worker-acme-general")
    assert not stack.is_app("postgres") and not stack.is_app("kube-apiserver")
