"""Resource quantities compared by value: ``1000m`` is ``1``, ``0.1`` is ``100m``, ``3072Mi`` is ``3Gi``.

The API server stores quantities in a canonical spelling, so Git's ``cpu: 1000m`` comes back as ``cpu: "1"``. A
comparison that predicts locally (no server dry run) would call that drift; comparing by value does not.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)")

# Maps whose values are quantities, by the field name that holds them.
QUANTITY_MAPS = frozenset(
    {
        "limits",
        "requests",
        "capacity",
        "allocatable",
        "hard",
        "used",
        "max",
        "min",
        "default",
        "defaultRequest",
        "maxLimitRequestRatio",
        "overhead",
    }
)
# Fields that are one quantity.
QUANTITY_FIELDS = frozenset({"sizeLimit"})


def quantity_value(text: str) -> Decimal | None:
    """The value of a Kubernetes quantity, or ``None`` when ``text`` is not one."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        return None
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number)
        return value * Decimal(f"1{exponent}") if exponent else value * _SUFFIXES[suffix or ""]
    except InvalidOperation:
        return None


def canonical(value: Any) -> Any:
    """A quantity's value in one spelling (an integer or a plain decimal); anything else unchanged."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    number = quantity_value(str(value))
    if number is None:
        return value
    normal = number.normalize()
    return str(normal.quantize(Decimal(1))) if normal == normal.to_integral_value() else format(normal, "f")


def with_canonical_quantities(value: Any, name: str = "") -> Any:
    """A copy of ``value`` with the quantities of resource maps (``limits``, ``requests``, ``hard``...) canonical."""
    if isinstance(value, dict):
        if name in QUANTITY_MAPS:
            return {
                key: canonical(item) if not isinstance(item, dict | list) else with_canonical_quantities(item, key)
                for key, item in value.items()
            }
        return {
            key: canonical(item) if key in QUANTITY_FIELDS else with_canonical_quantities(item, key)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [with_canonical_quantities(item, name) for item in value]
    return value
