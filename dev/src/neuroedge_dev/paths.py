"""Where the dev stack keeps built binaries (a cache shared by checkouts) and runtime state (per stack)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Built tools are cached per user, by version, so a second checkout or a CI run on the same machine
    does not rebuild Kubernetes."""
    explicit = os.environ.get("NEUROEDGE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "neuroedge"


def default_state_dir() -> Path:
    """Runtime state (data directories, logs, certificates, kubeconfig) lives beside the checkout, so that
    `make down` in one checkout never touches another's stack."""
    explicit = os.environ.get("NEUROEDGE_STATE_DIR")
    return Path(explicit) if explicit else Path.cwd() / ".neuroedge"
