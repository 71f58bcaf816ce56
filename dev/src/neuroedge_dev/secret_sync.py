"""The local stand-in for kubelet's Secret volume: `make up` runs this loop beside the local runtime API so
the API serves every tenant that becomes Ready while the stack is up, and stops serving a deleted one.

Every `INTERVAL` seconds it lists the live Tenants and the tenants' credentials Secrets (two small list
calls, selected by name and label on the server) and makes the directory equal to them (tenant_files.py).
A full list each time, rather than a watch, needs no resume logic and cannot miss an event; the directory
follows a new tenant, a rotation or a deletion within about a second. Errors (the API server restarting)
are logged and the next pass retries.

Run as `python -m neuroedge_dev.secret_sync --kubeconfig K --dir D`; `apps.start_secret_sync` starts and
records it, and `neuroedge dev down` stops it with the rest of the stack.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import urllib3
from kubernetes import client, config

from neuroedge_dev import tenant_files

INTERVAL = 1.0
READY_LINE = "credentials synced"
TENANTS = ("neuroedge.io", "v1alpha1", "tenants")
log = logging.getLogger("neuroedge_dev.secret_sync")


class Syncer:
    """Lists what the directory must hold and writes it."""

    def __init__(self, api: client.ApiClient, root: Path) -> None:
        self._api = api
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._root = root

    def once(self) -> None:
        """One pass: list, decide, write; logs what changed."""
        found = self._core.list_secret_for_all_namespaces(
            field_selector=tenant_files.FIELD_SELECTOR, label_selector=tenant_files.LABEL_SELECTOR
        )
        secrets: list[dict[str, Any]] = [
            self._api.sanitize_for_serialization(item)  # type: ignore[no-untyped-call]
            for item in found.items
        ]
        listed: Any = self._custom.list_cluster_custom_object(*TENANTS)  # a plain dict: no model for CRDs
        tenants = listed.get("items") or []
        wanted = tenant_files.desired(secrets, tenant_files.live_tenants(tenants))
        written, removed = tenant_files.sync(self._root, wanted)
        for tenant in written:
            log.info("tenant %s: credentials written", tenant)
        for tenant in removed:
            log.info("tenant %s: credentials removed (the tenant or its Secret is gone)", tenant)


def run(kubeconfig: Path, root: Path) -> None:
    """Sync every INTERVAL seconds; announce readiness after the first full pass (until a signal ends it)."""
    api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
    syncer = Syncer(api, root)
    announced = False
    while True:
        try:
            syncer.once()
            if not announced:
                log.info(READY_LINE)
                announced = True
        except (client.ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            log.warning("reading the tenants' credentials Secrets failed, retrying: %s", exc)
        time.sleep(INTERVAL)


def _stop(signum: int, _frame: FrameType | None) -> None:
    sys.exit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m neuroedge_dev.secret_sync --kubeconfig K --dir D`."""
    parser = argparse.ArgumentParser(prog="neuroedge_dev.secret_sync", description=__doc__)
    parser.add_argument("--kubeconfig", required=True, help="admin kubeconfig of the dev control plane")
    parser.add_argument("--dir", required=True, help="the runtime API's NEUROEDGE_CREDENTIALS_DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    signal.signal(signal.SIGTERM, _stop)
    run(Path(args.kubeconfig), Path(args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
