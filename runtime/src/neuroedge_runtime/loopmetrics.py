"""Counters, histograms and a gauge without locks, for metrics that only the event loop's thread updates.

prometheus_client guards every value with a lock (a counter's increment, each of a histogram's updates):
about 4 us of every request for the per-route and per-tenant request series and the in-flight gauge,
which is a tenth of a probe's whole time. These series are updated by the request path alone, on the event
loop's thread, and read by the /metrics handler on that same thread, so plain attributes are enough. Their
exposition is prometheus_client's own (the same samples, labels, `_created` series and formatting; a unit
test compares the two), so dashboards, alerts and scrapers see no difference.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

Child = TypeVar("Child")


class CounterChild:
    """One label set's count."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class HistogramChild:
    """One label set's observations: a count per bucket (not cumulative: one increment per observation),
    and their sum."""

    __slots__ = ("_bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.sum += value
        self.counts[bisect_left(self._bounds, value)] += 1  # the first bucket whose bound is >= value


class Timed:
    """A counter child and a histogram child updated together (a request counted and timed): one call per
    request, where a lookup, `inc` and `observe` were three."""

    __slots__ = ("counter", "histogram")

    def __init__(self, counter: CounterChild, histogram: HistogramChild) -> None:
        self.counter, self.histogram = counter, histogram

    def done(self, seconds: float) -> None:
        """`counter.inc()` and `histogram.observe(seconds)`, without their calls."""
        self.counter.value += 1.0
        histogram = self.histogram
        histogram.sum += seconds
        histogram.counts[bisect_left(histogram._bounds, seconds)] += 1  # the same module's child


class _Metric(Collector):
    """A metric's name, help text and label names."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self._name, self._doc, self._labelnames = name, documentation, tuple(labelnames)

    def _labels(self, values: tuple[str, ...]) -> dict[str, str]:
        return dict(zip(self._labelnames, values, strict=True))


class _Family(_Metric, Generic[Child]):
    """A labelled metric: one child per label set, made by `_child` on first use."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        super().__init__(name, documentation, labelnames)
        self._children: dict[tuple[str, ...], Child] = {}

    def labels(self, *values: str) -> Child:
        """The child of one label set (created on first use)."""
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self._labelnames):
                raise ValueError(f"{self._name} takes labels {self._labelnames}")
            child = self._children[values] = self._child()
        return child

    def _child(self) -> Child:
        raise NotImplementedError


class Counter(_Family[CounterChild]):
    """A labelled counter (exposed as `<name>_total` and `<name>_created`, as prometheus_client's)."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        super().__init__(name, documentation, labelnames)
        registry.register(self)

    def _child(self) -> CounterChild:
        return CounterChild()

    def collect(self) -> Iterable[Metric]:
        metric = Metric(self._name, self._doc, "counter")
        for values, child in list(self._children.items()):
            labels = self._labels(values)
            metric.add_sample(self._name + "_total", labels, child.value)
            metric.add_sample(self._name + "_created", labels, child.created)
        yield metric


class Histogram(_Family[HistogramChild]):
    """A labelled histogram (buckets, count, sum and `_created`, as prometheus_client's)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self._bounds = tuple(float(b) for b in buckets)
        registry.register(self)

    def _child(self) -> HistogramChild:
        return HistogramChild(self._bounds)

    def collect(self) -> Iterable[Metric]:
        metric = Metric(self._name, self._doc, "histogram")
        bounds = [*(floatToGoString(b) for b in self._bounds), "+Inf"]  # type: ignore[no-untyped-call]
        for values, child in list(self._children.items()):
            labels = self._labels(values)
            cumulative = 0.0
            for bound, count in zip(bounds, list(child.counts), strict=True):
                cumulative += count
                metric.add_sample(self._name + "_bucket", {"le": bound, **labels}, cumulative)
            metric.add_sample(self._name + "_count", labels, cumulative)
            metric.add_sample(self._name + "_sum", labels, child.sum)
            metric.add_sample(self._name + "_created", labels, child.created)
        yield metric


class Gauge(_Metric):
    """An unlabelled gauge."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        super().__init__(name, documentation, ())
        self.value = 0.0
        registry.register(self)

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        self.value -= amount

    def collect(self) -> Iterable[Metric]:
        metric = Metric(self._name, self._doc, "gauge")
        metric.add_sample(self._name, {}, self.value)
        yield metric
