"""Analytics engine: descriptive statistics of a numeric series (centre, spread, percentiles, trend)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from neuroedge_runtime.engines import base

Finite = Annotated[float, Field(allow_inf_nan=False)]
Percent = Annotated[float, Field(ge=0, le=100)]


class Config(base.StrictConfig):
    """Which percentiles to report and the |z| beyond which a point is an outlier."""

    percentiles: list[Percent] = Field(default_factory=lambda: [5.0, 25.0, 50.0, 75.0, 95.0], max_length=50)
    outlier_z: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 3.0


class Inputs(base.Strict):
    """The series, in order (the trend uses positions 0, 1, 2, ...)."""

    series: list[Finite] = Field(min_length=1, max_length=100_000)


def percentile(ordered: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (the 'linear' method of numpy), on sorted data."""
    position = (len(ordered) - 1) * p / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def trend(series: list[float]) -> dict[str, float]:
    """Least-squares line through (i, x_i): slope, intercept and r^2 (0 for fewer than 2 points)."""
    n = len(series)
    if n < 2:
        return {"slope": 0.0, "intercept": series[0], "r2": 0.0}
    mean_x, mean_y = (n - 1) / 2.0, math.fsum(series) / n
    sxx = math.fsum((i - mean_x) ** 2 for i in range(n))
    sxy = math.fsum((i - mean_x) * (y - mean_y) for i, y in enumerate(series))
    syy = math.fsum((y - mean_y) ** 2 for y in series)
    slope = sxy / sxx
    r2 = (sxy * sxy) / (sxx * syy) if syy > 0 else 1.0
    return {"slope": slope, "intercept": mean_y - slope * mean_x, "r2": r2}


def describe(config: Config, inputs: Inputs) -> base.JsonObject:
    """Descriptive statistics of the series (pure)."""
    series = inputs.series
    ordered = sorted(series)
    mean = statistics.fmean(series)
    stdev = statistics.stdev(series) if len(series) > 1 else 0.0
    outliers = [i for i, x in enumerate(series) if stdev > 0 and abs(x - mean) / stdev > config.outlier_z]
    return {
        "count": len(series),
        "sum": math.fsum(series),
        "mean": mean,
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "variance": stdev * stdev,
        "stdev": stdev,
        "percentiles": {f"p{p:g}": percentile(ordered, p) for p in config.percentiles},
        "trend": trend(series),
        "outliers": outliers,
    }


class AnalyticsEngine:
    """Engine kind `analytics`, served by /engine/analyze."""

    kind = "analytics"
    operation = base.Operation.ANALYZE

    async def __call__(self, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> base.JsonObject:
        return describe(base.parse_config(Config, config), base.parse(Inputs, inputs, "input"))
