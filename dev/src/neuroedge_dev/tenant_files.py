"""Tenants' credentials Secrets as files `<root>/<tenant>/<KEY>`, as kubelet materialises a mounted Secret.

The local runtime API reads `NEUROEDGE_CREDENTIALS_DIR` laid out like that (runtime/tenancy/credentials.py)
and notices changed files by themselves, so keeping this directory equal to the cluster's Secrets is all it
takes for the API to serve every tenant that becomes Ready, pick up a rotation and forget a deleted tenant.

`desired` is pure: it decides which Secret speaks for which tenant. Only Secrets the operator made count
(its managed-by label, a tenant label equal to the `TENANT` value) and only for a Tenant that exists and is
not being deleted: anything else named like it in some namespace must not be able to log in as a tenant.
`write`, `remove` and `sync` touch only the files.
"""

from __future__ import annotations

import base64
import binascii
import re
import shutil
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from neuroedge_operator.builders import meta, secret
from neuroedge_operator.resources import tenant as tenant_model
from neuroedge_runtime.tenancy import names

SECRET_NAME = secret.NAME
TENANT_LABEL = tenant_model.TENANT_LABEL
MANAGED_BY = meta.MANAGED_BY
LABEL_SELECTOR = f"{MANAGED_BY[0]}={MANAGED_BY[1]},{TENANT_LABEL}"
FIELD_SELECTOR = f"metadata.name={SECRET_NAME}"
_KEY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a Secret key; never `..`, `/` or a dotfile


def tenant_of(found: Mapping[str, Any]) -> tuple[str, dict[str, str]] | None:
    """(tenant, decoded values) of an operator-made credentials Secret, or None for anything else (pure)."""
    metadata = found.get("metadata") or {}
    labels = metadata.get("labels") or {}
    tenant = labels.get(TENANT_LABEL)
    if metadata.get("name") != SECRET_NAME or labels.get(MANAGED_BY[0]) != MANAGED_BY[1]:
        return None
    if not isinstance(tenant, str) or not names.is_tenant_name(tenant):
        return None
    try:
        values = {
            str(key): base64.b64decode(value, validate=True).decode()
            for key, value in (found.get("data") or {}).items()
        }
    except (binascii.Error, UnicodeDecodeError, TypeError, ValueError):
        return None
    if values.get("TENANT", "").strip() != tenant or not all(_KEY_NAME.match(k) for k in values):
        return None
    return tenant, values


def live_tenants(tenants: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names of the Tenant objects that are not being deleted (pure)."""
    return {
        str(t["metadata"]["name"])
        for t in tenants
        if isinstance(t.get("metadata"), Mapping) and not t["metadata"].get("deletionTimestamp")
    }


def desired(secrets: Iterable[Mapping[str, Any]], tenants: Collection[str]) -> dict[str, dict[str, str]]:
    """Tenant -> the files its directory must hold, for the tenants in `tenants` (the live Tenant objects: a
    deleted tenant stops being served at once, not when garbage collection gets to its Secret). A tenant with
    several namespaces has a copy of the Secret in each; the one in the first namespace (by name) speaks for
    it, so the choice never flaps (pure)."""
    chosen: dict[str, tuple[str, dict[str, str]]] = {}
    for item in secrets:
        found = tenant_of(item)
        if found is None or found[0] not in tenants:
            continue
        tenant, values = found
        namespace = str((item.get("metadata") or {}).get("namespace") or "")
        if tenant not in chosen or namespace < chosen[tenant][0]:
            chosen[tenant] = (namespace, values)
    return {tenant: values for tenant, (_namespace, values) in chosen.items()}


def write(root: Path, tenant: str, values: Mapping[str, str]) -> bool:
    """`<root>/<tenant>/<KEY>` files (directories 0700, files 0600), each replaced atomically and only when
    its content changed, so the API's change detection sees a rotation and nothing else; a key no longer in
    the Secret goes, as from a mounted Secret. True when anything changed."""
    directory = root / tenant
    directory.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    directory.chmod(0o700)
    changed = False
    for key, value in values.items():
        target = directory / key
        if target.is_file() and target.read_text() == value:
            continue
        tmp = directory / f".{key}.tmp"
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(value)
        tmp.replace(target)
        changed = True
    for stale in [p for p in directory.iterdir() if p.name not in values]:
        stale.unlink()
        changed = True
    return changed


def present(root: Path) -> set[str]:
    """Tenants that have a directory under `root`."""
    if not root.is_dir():
        return set()
    return {p.name for p in root.iterdir() if p.is_dir() and names.is_tenant_name(p.name)}


def remove(root: Path, tenant: str) -> None:
    """Delete the tenant's directory: the API then answers 401 for it."""
    shutil.rmtree(root / tenant, ignore_errors=True)


def sync(root: Path, wanted: Mapping[str, Mapping[str, str]]) -> tuple[list[str], list[str]]:
    """Make `root` hold exactly `wanted`; returns (tenants written or changed, tenants removed)."""
    written = [tenant for tenant, values in sorted(wanted.items()) if write(root, tenant, values)]
    removed = sorted(present(root) - set(wanted))
    for tenant in removed:
        remove(root, tenant)
    return written, removed
