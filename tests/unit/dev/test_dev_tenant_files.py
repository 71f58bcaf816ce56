"""The local stand-in for a mounted Secret (dev/tenant_files.py): which Secrets speak for which tenant, and
the directory kept equal to them. The loop that feeds it from a watch runs against the real control plane in
tests/integration/dev/test_dev_up_serves_new_tenants.py."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

from neuroedge_dev import tenant_files


def secret(namespace: str, tenant: str, **values: str) -> dict[str, Any]:
    data = {"TENANT": tenant, **values}
    return {
        "metadata": {
            "name": "neuroedge-tenant-credentials",
            "namespace": namespace,
            "labels": {"neuroedge.io/tenant": tenant, "app.kubernetes.io/managed-by": "neuroedge-operator"},
        },
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def test_an_operator_made_secret_gives_its_tenant_and_decoded_values() -> None:
    assert tenant_files.tenant_of(secret("acme", "acme", ADMIN_PASSWORD="pw")) == (
        "acme",
        {"TENANT": "acme", "ADMIN_PASSWORD": "pw"},
    )


def test_secrets_the_operator_did_not_make_speak_for_no_tenant() -> None:
    unmanaged = secret("evil", "acme")
    del unmanaged["metadata"]["labels"]["app.kubernetes.io/managed-by"]
    other_name = secret("acme", "acme")
    other_name["metadata"]["name"] = "something-else"
    lying = secret("evil", "evil")
    lying["data"]["TENANT"] = base64.b64encode(b"acme").decode()  # label and TENANT disagree
    traversal = secret("acme", "acme", **{"..": "x"})
    bad_base64 = secret("acme", "acme")
    bad_base64["data"]["ADMIN_PASSWORD"] = "***"
    bad_label = secret("acme", "acme")
    bad_label["metadata"]["labels"]["neuroedge.io/tenant"] = "../acme"
    for body in (unmanaged, other_name, lying, traversal, bad_base64, bad_label):
        assert tenant_files.tenant_of(body) is None
    assert tenant_files.desired([unmanaged, lying, traversal], {"acme", "evil"}) == {}


def test_a_tenant_with_several_namespaces_is_spoken_for_by_its_first_namespace() -> None:
    found = tenant_files.desired(
        [secret("b-ns", "acme", ADMIN_PASSWORD="b"), secret("a-ns", "acme", ADMIN_PASSWORD="a")], {"acme"}
    )
    assert found == {"acme": {"TENANT": "acme", "ADMIN_PASSWORD": "a"}}


def test_only_live_tenants_are_served_a_deleted_one_at_once_whatever_its_secret() -> None:
    tenants = [
        {"metadata": {"name": "acme"}},
        {"metadata": {"name": "globex", "deletionTimestamp": "2026-11-29T22:00:00Z"}},
    ]
    live = tenant_files.live_tenants(tenants)
    assert live == {"acme"}
    secrets = [secret("acme", "acme"), secret("globex", "globex"), secret("initech", "initech")]
    assert set(tenant_files.desired(secrets, live)) == {"acme"}


def test_credentials_are_private_files_rewritten_only_on_change(tmp_path: Path) -> None:
    root = tmp_path / "credentials"
    assert tenant_files.write(root, "acme", {"TENANT": "acme", "ADMIN_PASSWORD": "s3cret"})
    secret_file = root / "acme" / "ADMIN_PASSWORD"
    assert secret_file.read_text() == "s3cret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "acme").stat().st_mode) == 0o700 == stat.S_IMODE(root.stat().st_mode)
    before = secret_file.stat().st_ino
    assert not tenant_files.write(root, "acme", {"TENANT": "acme", "ADMIN_PASSWORD": "s3cret"})
    assert secret_file.stat().st_ino == before  # unchanged: not replaced
    assert tenant_files.write(root, "acme", {"TENANT": "acme", "ADMIN_PASSWORD": "rotated"})
    assert secret_file.read_text() == "rotated" and stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in (root / "acme").iterdir()) == ["ADMIN_PASSWORD", "TENANT"]


def test_a_key_gone_from_the_secret_goes_from_the_directory(tmp_path: Path) -> None:
    tenant_files.write(tmp_path, "acme", {"TENANT": "acme", "ADMIN_PASSWORD": "pw"})
    assert tenant_files.write(tmp_path, "acme", {"TENANT": "acme"})
    assert sorted(p.name for p in (tmp_path / "acme").iterdir()) == ["TENANT"]


def test_sync_writes_new_tenants_and_removes_tenants_whose_secret_is_gone(tmp_path: Path) -> None:
    (tmp_path / "not-a-tenant.txt").write_text("left alone")
    first = {"acme": {"TENANT": "acme"}, "globex": {"TENANT": "globex"}}
    assert tenant_files.sync(tmp_path, first) == (["acme", "globex"], [])
    assert tenant_files.sync(tmp_path, first) == ([], [])  # nothing changed, nothing rewritten
    assert tenant_files.sync(tmp_path, {"acme": {"TENANT": "acme"}}) == ([], ["globex"])
    assert tenant_files.present(tmp_path) == {"acme"}
    assert not (tmp_path / "globex").exists()
    assert (tmp_path / "not-a-tenant.txt").read_text() == "left alone"
