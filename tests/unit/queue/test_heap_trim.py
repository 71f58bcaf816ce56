"""Freed heap memory goes back to the OS when a process trims (glibc keeps it otherwise)."""

from __future__ import annotations

import platform
from pathlib import Path

from neuroedge_queue import heaptrim


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_glibc_can_trim() -> None:
    assert platform.libc_ver()[0] == "glibc", "this suite runs on glibc (the images are Debian-based)"
    assert heaptrim.available()


def test_trim_returns_what_python_freed() -> None:
    # ~190 MB in heap chunks (below the mmap threshold), each followed by a small one that stays: the freed
    # chunks are holes that free() alone never returns, as after a burst of reconciles.
    pairs = [(bytearray(64 * 1024), bytearray(600)) for _ in range(3000)]
    kept = [small for _, small in pairs]
    before = rss_mb()
    del pairs
    freed = rss_mb()
    assert heaptrim.trim()
    trimmed = rss_mb()
    assert freed > before - 50, "glibc returned the memory by itself: nothing left to prove"
    assert trimmed < freed - 100
    assert len(kept) == 3000
