"""Durations compared by value: ``60s``, ``1m`` and ``1m0s`` are one duration.

Kubernetes types hold durations as Go ``metav1.Duration`` strings, which the Go side writes back in one spelling
(``time.Duration.String()``: ``1h30m0s``, ``1.5s``, ``500ms``). A comparison would call ``90m`` against
``1h30m0s`` drift; comparing the canonical spelling does not.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_UNITS = {
    "ns": Decimal(1),
    "us": Decimal(10**3),
    "µs": Decimal(10**3),
    "μs": Decimal(10**3),
    "ms": Decimal(10**6),
    "s": Decimal(10**9),
    "m": Decimal(60 * 10**9),
    "h": Decimal(3600 * 10**9),
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_SECOND = 10**9


def duration_nanoseconds(text: str) -> int | None:
    """The length of a Go duration string (``1h30m``, ``-1.5s``, ``0``) in nanoseconds, or ``None``."""
    rest = text.strip()
    sign = -1 if rest.startswith("-") else 1
    if rest.startswith(("-", "+")):
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        return None
    total = Decimal(0)
    position = 0
    while position < len(rest):
        match = _PART.match(rest, position)
        if match is None:
            return None
        try:
            total += Decimal(match.group(1)) * _UNITS[match.group(2)]
        except InvalidOperation:
            return None
        position = match.end()
    return sign * int(total)


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


def format_duration(nanoseconds: int) -> str:
    """A duration in Go's ``time.Duration.String()`` spelling (``1h30m0s``, ``1.5s``, ``250ms``, ``0s``)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < _SECOND:
        for unit, name in ((10**6, "ms"), (10**3, "µs"), (1, "ns")):
            if value >= unit:
                return f"{sign}{_fraction(value, unit)}{name}"
    hours, value = divmod(value, 3600 * _SECOND)
    minutes, value = divmod(value, 60 * _SECOND)
    text = f"{_fraction(value, _SECOND)}s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def canonical_duration(value: Any) -> Any:
    """A duration string in Go's spelling; anything that is not a duration string unchanged."""
    if not isinstance(value, str):
        return value
    nanoseconds = duration_nanoseconds(value)
    return value if nanoseconds is None else format_duration(nanoseconds)
