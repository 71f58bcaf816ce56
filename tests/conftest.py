"""Session fixtures: one real dev stack per test run, in a throw-away state directory.

`dev_services` starts PostgreSQL and Redis only (fast); `dev_cluster` adds the control plane with the CRDs
installed. Both are torn down at the end of the session, leaving no process behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuroedge_dev import stack as dev_stack

REPO = Path(__file__).resolve().parent.parent
CRDS = REPO / "crds"


@pytest.fixture(scope="session")
def dev_state_dir() -> Iterator[Path]:
    """A state directory private to this test session (not the one `make up` uses)."""
    path = Path(tempfile.mkdtemp(prefix="neuroedge-test-"))
    yield path
    dev_stack.down(path, purge=not os.environ.get("NEUROEDGE_KEEP_TEST_STATE"))


@pytest.fixture(scope="session")
def dev_services(dev_state_dir: Path) -> dev_stack.Stack:
    """PostgreSQL (with pgvector) and Redis on loopback."""
    return dev_stack.up(dev_state_dir, cluster=False)


@pytest.fixture(scope="session")
def dev_cluster(dev_services: dev_stack.Stack, dev_state_dir: Path) -> dev_stack.Stack:
    """The whole stack: services plus the Kubernetes control plane with kwok nodes and our CRDs."""
    return dev_stack.up(dev_state_dir, crds_dir=CRDS, cluster=True)


@pytest.fixture(scope="session")
def database_url(dev_services: dev_stack.Stack) -> str:
    """Superuser DSN of the test PostgreSQL (database `neuroedge`)."""
    return dev_services.database_url


@pytest.fixture(scope="session")
def redis_url(dev_services: dev_stack.Stack) -> str:
    """DSN of the test Redis (default user, with password)."""
    return dev_services.redis_url


@pytest.fixture(scope="session")
def kubeconfig(dev_cluster: dev_stack.Stack) -> Path:
    """Admin kubeconfig of the test control plane."""
    return Path(dev_cluster.kubeconfig)
