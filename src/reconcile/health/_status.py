"""Health verdicts, their order, and the small helpers every check shares."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconcile.model import HealthStatus, Manifest

# From most to least healthy, as the reference orders them when it aggregates.
ORDER: tuple[HealthStatus, ...] = (
    HealthStatus.HEALTHY,
    HealthStatus.SUSPENDED,
    HealthStatus.PROGRESSING,
    HealthStatus.MISSING,
    HealthStatus.DEGRADED,
    HealthStatus.UNKNOWN,
)
_RANK = {status: index for index, status in enumerate(ORDER)}


def is_worse(current: HealthStatus, new: HealthStatus) -> bool:
    """Whether ``new`` is a worse condition than ``current`` (Healthy < Suspended < ... < Unknown)."""
    return _RANK[HealthStatus(new)] > _RANK[HealthStatus(current)]


def worst(statuses: Iterable[HealthStatus]) -> HealthStatus:
    """The worst of ``statuses``; Healthy when there are none."""
    result = HealthStatus.HEALTHY
    for status in statuses:
        if is_worse(result, status):
            result = HealthStatus(status)
    return result


# ----------------------------------------------------------------------------------------------------
# Reading objects leniently: live objects come from the API server, but checks must never crash on odd ones.


def field(obj: Any, *path: str) -> Any:
    """The value at ``path`` inside nested mappings, or ``None`` where any step is missing or not a mapping."""
    value = obj
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def integer(value: Any, default: int = 0) -> int:
    """``value`` as an int (Go's zero value when missing or not a number)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return default


def text(value: Any) -> str:
    """``value`` as a string (empty when missing or not a string)."""
    return value if isinstance(value, str) else ""


def items(value: Any) -> list[dict[str, Any]]:
    """The mappings in a list field (conditions, container statuses); other entries are skipped."""
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def condition(obj: Manifest, kind: str) -> dict[str, Any] | None:
    """The first ``status.conditions`` entry of type ``kind``."""
    for entry in items(field(obj, "status", "conditions")):
        if entry.get("type") == kind:
            return entry
    return None


def annotations_of(obj: Manifest) -> dict[str, Any]:
    """The object's annotations (empty when none)."""
    value = field(obj, "metadata", "annotations")
    return value if isinstance(value, dict) else {}


def section(obj: Any, *path: str) -> dict[str, Any]:
    """The mapping at ``path`` (empty when missing or not a mapping)."""
    value = field(obj, *path)
    return value if isinstance(value, dict) else {}
