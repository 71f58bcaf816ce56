"""Giving the heap memory Python has freed back to the operating system, every half minute.

The operator's large transient allocations (a relist's response and its parsed objects, a burst of
reconciles after 1,000 Tenants are applied at once) are freed by Python but kept by glibc's allocator, in
one arena per thread (the election's loop and kopf's run in two), so resident memory stayed at its peak:
460 MB after 1,000 tenants, and with 300 tenants tracemalloc counted 93 MB of live Python objects in a
386 MB process. `malloc_trim(0)` returns the free pages of every arena; it takes milliseconds. On a C
library without it (musl) nothing is done.
"""

from __future__ import annotations

import asyncio
import logging

from neuroedge_queue import heaptrim

log = logging.getLogger(__name__)
TRIM_INTERVAL = 30.0
"""Seconds between trims: a burst's memory is back within half a minute, and a trim costs milliseconds."""


async def trim_every(interval: float = TRIM_INTERVAL) -> None:
    """`heaptrim.trim()` every `interval` seconds, until cancelled."""
    if not heaptrim.available():
        log.info("no malloc_trim in this C library: freed heap memory stays with the process")
        return
    while True:
        await asyncio.sleep(interval)
        heaptrim.trim()
