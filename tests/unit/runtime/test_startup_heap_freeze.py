"""The API freezes its startup heap once listening: what exists then is out of the collector's sight (full
collections no longer walk it), what is made later is collected as before; and it collects its youngest
generation less often."""

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


def test_the_young_generation_is_collected_less_often_and_the_older_ones_as_before() -> None:
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 11, 12)  # CPython's young default; older ones this test can recognise
        heap.collect_less_often()
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 11, 12)
        assert heap.YOUNG_THRESHOLD > 700
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # a cycle is still found and freed
    finally:
        gc.set_threshold(*saved)
