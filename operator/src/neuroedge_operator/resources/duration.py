"""Durations written in specs as "90s", "15m", "1h30m", "14d" (Go style plus days), or plain seconds."""

from __future__ import annotations

import re

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class DurationError(ValueError):
    """A string that is not a duration."""


def parse_seconds(value: str | int | float) -> float:
    """Seconds in a duration; raises DurationError naming the bad text."""
    if isinstance(value, bool):
        raise DurationError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        if not text or _PART.sub("", text):
            raise DurationError(f"{value!r} is not a duration (e.g. 90s, 15m, 1h30m, 14d)")
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    if seconds <= 0:
        raise DurationError(f"{value!r} must be a positive duration")
    return seconds
