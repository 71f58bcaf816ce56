"""The API freezes its startup heap once listening: what exists then is out of the collector's sight (full
collections no longer walk it), what is made later is collected as before."""

from __future__ import annotations

import gc

from neuroedge_runtime import heap


def test_startup_objects_are_frozen_and_later_garbage_is_still_collected() -> None:
    try:
        startup = [[object()] for _ in range(10)]
        heap.freeze_startup()
        assert startup
        assert gc.get_freeze_count() > 0
        before = gc.get_freeze_count()
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # the later cycle is found and freed
        assert gc.get_freeze_count() == before  # the frozen heap stays frozen
    finally:
        gc.unfreeze()
