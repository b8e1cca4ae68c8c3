"""Durations ("30s", "5m", "2h", "7d", "2w") and percentages ("5%") as campaign files write them.

Parsing only; a bad value raises ValueError with a message fit to show the marketer.
"""
from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            try:
                return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
            except OverflowError:
                raise ValueError(f"duration {value!r} is too long (at most 999999999 days)") from None
    raise ValueError(f"malformed duration {value!r} (write a number and a unit: 30s, 5m, 2h, 7d, 2w)")


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def parse_percent(value: object) -> float:
    """'5%' or 5 or 0.05? Numbers are percentages too: `control_group: 5` means 5%."""
    if isinstance(value, bool):
        raise ValueError(f"malformed percentage {value!r} (write e.g. 5%)")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"percentage {value!r} is outside 0%..100%") from None
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*%\s*", value):
        number = float(value.strip().rstrip("%"))
    else:
        raise ValueError(f"malformed percentage {value!r} (write e.g. 5%)")
    if not 0 <= number <= 100:
        raise ValueError(f"percentage {value!r} is outside 0%..100%")
    return number
