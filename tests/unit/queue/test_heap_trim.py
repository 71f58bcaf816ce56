"""The heap trimmer is there on the images' C library (what it returns is proven in a fresh process:
tests/integration/queue/test_heap_trim_process.py)."""

from __future__ import annotations

import platform

from neuroedge_queue import heaptrim


def test_glibc_can_trim() -> None:
    assert platform.libc_ver()[0] == "glibc", "this suite runs on glibc (the images are Debian-based)"
    assert heaptrim.available()
