"""The garbage collector's view of the API process's heap."""

from __future__ import annotations

import gc


def freeze_startup() -> None:
    """Take everything made before the first request (modules, the app and its clients, and the
    OpenTelemetry SDK and exporter when tracing is on) out of the garbage collector's sight: those objects
    live as long as the process, yet every full collection walked all of them (26-35 ms each here). Under
    load a full collection comes every few seconds, and more often with tracing on: a sampled request's
    spans wait in the batch exporter long enough to reach the oldest generation, and at 10% sampling the
    extra collector time was about a quarter of tracing's cost. Frozen, a full collection walks only what
    was made since. Called once the listener is up, in every tracing configuration alike."""
    gc.collect()  # startup garbage is freed, not frozen
    gc.freeze()


YOUNG_THRESHOLD = 10_000
"""Net allocations of container objects between two collections of the youngest generation (CPython: 700)."""


def collect_less_often() -> None:
    """Collect the youngest generation every YOUNG_THRESHOLD net allocations instead of every 700.

    Why: under load, what the young generation holds when a collection runs is mostly the state of the
    requests in flight (their coroutines, dicts, spans), alive, so each collection walks it and promotes it
    whatever the threshold; the number of collections is what the threshold sets. At 700, collection was
    2.0% of the API's CPU on /engine/predict with tracing off and 3.4% with tracing on at 0% sampling, whose
    request span and context are a few more containers per request (perf, cpu-clock samples). Unreachable
    cycles wait a little longer before they are freed; everything else is freed by reference counting as
    before. The older generations keep their thresholds."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
