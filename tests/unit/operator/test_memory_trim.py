"""Freed heap memory goes back to the OS when the operator trims (glibc keeps it otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from neuroedge_operator import memory


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(memory.LIBC is None, reason="a C library without malloc_trim (not glibc)")
def test_trim_returns_what_python_freed() -> None:
    # ~190 MB in heap chunks (below the mmap threshold), each followed by a small one that stays: the freed
    # chunks are holes that free() alone never returns, as after a burst of reconciles.
    pairs = [(bytearray(64 * 1024), bytearray(600)) for _ in range(3000)]
    kept = [small for _, small in pairs]
    before = rss_mb()
    del pairs
    freed = rss_mb()
    assert memory.trim()
    trimmed = rss_mb()
    assert freed > before - 50, "glibc returned the memory by itself: nothing left to prove"
    assert trimmed < freed - 100
    assert len(kept) == 3000
