"""Giving the heap pages Python has freed back to the operating system (glibc's `malloc_trim`).

glibc keeps freed chunks inside its arenas, so a process's resident memory stays at its peak after a burst of
large transient allocations: the operator's relists and reconcile bursts, the runtime's model loads. Both
processes trim; this one module finds the function for both. It is looked up among the process's own symbols
(the C library it actually runs on), not by searching for a libc file; on a C library without it (musl)
nothing is done.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any


def _malloc_trim() -> Callable[[int], Any] | None:
    try:
        found: Callable[[int], Any] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None
    return found


_MALLOC_TRIM = _malloc_trim()


def available() -> bool:
    """Whether this C library can trim (glibc can; musl cannot)."""
    return _MALLOC_TRIM is not None


def trim() -> bool:
    """Return free heap pages to the OS; True when some were (False also where the C library cannot)."""
    if _MALLOC_TRIM is None:
        return False
    return bool(_MALLOC_TRIM(0))
