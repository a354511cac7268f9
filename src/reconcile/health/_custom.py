"""Health checks written in Python, registered per group and kind."""

from __future__ import annotations

from reconcile.errors import ConfigurationError
from reconcile.health._patterns import PatternTable
from reconcile.model import GroupKind
from reconcile.protocols import HealthCheck


class CustomHealthChecks:
    """Python callables registered per group and kind; usable as ``checks`` in :func:`~reconcile.health._assess`.

    Patterns are shell wildcards matched against the group and the kind separately (``"*"``,
    ``"*.example.com"``; the core group is ``""``). The most specific pattern wins::

        checks = CustomHealthChecks()
        checks.register("example.com", "Widget", widget_health)
        checks.register("*.example.com", "*", lambda obj: None)  # no opinion: fall through to the next checks
    """

    def __init__(self) -> None:
        self._table: PatternTable[HealthCheck] = PatternTable()

    def register(self, group: str, kind: str, check: HealthCheck) -> None:
        """Use ``check`` for objects of this group and kind; a check may return ``None`` to defer to others.

        Raises:
            ConfigurationError: ``kind`` is empty or ``check`` is not callable.
        """
        if not kind:
            raise ConfigurationError(f"health check for group {group!r} needs a kind (use '*' for any)")
        if not callable(check):
            raise ConfigurationError(f"health check for {group}/{kind} is not callable: {type(check).__name__}")
        self._table.add(group, kind, check)

    def find(self, group_kind: GroupKind) -> HealthCheck | None:
        """The most specific check registered for ``group_kind``, or ``None``."""
        return self._table.find(group_kind)
