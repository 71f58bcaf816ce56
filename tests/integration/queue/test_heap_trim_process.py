"""Freed heap memory goes back to the OS when a process trims (glibc keeps it otherwise).

Proven in a fresh interpreter: in a long-lived test process the heap is already full of holes, the small
chunks meant to pin the big ones land in those holes instead, the big ones sit together at the top of the
heap, and free() alone returns them (the unit-test version failed that way once in CI)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCENARIO = textwrap.dedent(
    """
    from pathlib import Path
    from neuroedge_queue import heaptrim

    def rss_mb():
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    # ~190 MB in heap chunks (below the mmap threshold), each followed by a small one that stays: the freed
    # chunks are holes that free() alone never returns, as after a burst of reconciles.
    pairs = [(bytearray(64 * 1024), bytearray(600)) for _ in range(3000)]
    kept = [small for _, small in pairs]
    before = rss_mb()
    del pairs
    freed = rss_mb()
    assert heaptrim.trim()
    trimmed = rss_mb()
    assert len(kept) == 3000
    print(before, freed, trimmed)
    """
)


def test_trim_returns_what_python_freed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCENARIO], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    before, freed, trimmed = (float(value) for value in done.stdout.split())
    assert freed > before - 50, f"glibc returned the memory by itself: nothing left to prove ({done.stdout})"
    assert trimmed < freed - 100, done.stdout
