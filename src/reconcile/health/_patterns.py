"""Values registered per group and kind, with shell wildcards; the most specific match wins."""

from __future__ import annotations

import fnmatch
from typing import Generic, TypeVar

from reconcile.model import GroupKind

T = TypeVar("T")

_WILDCARDS = frozenset("*?[")


def _literal_chars(pattern: str) -> int:
    return sum(1 for char in pattern if char not in _WILDCARDS)


class PatternTable(Generic[T]):
    """A small registry keyed by ``(group, kind)`` patterns (``"*"``, ``"*.example.com"``, exact names)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], T] = {}

    def add(self, group: str, kind: str, value: T) -> None:
        """Register ``value`` for the pattern; registering the same pattern again replaces the old value."""
        self._entries.pop((group, kind), None)
        self._entries[(group, kind)] = value

    def find(self, group_kind: GroupKind) -> T | None:
        """The value whose pattern matches ``group_kind`` most specifically.

        Exact names win over wildcards; among wildcards, the pattern with the most literal characters wins, then
        the one registered first.
        """
        exact = self._entries.get((group_kind.group, group_kind.kind))
        if exact is not None:
            return exact
        best: tuple[int, T] | None = None
        for (group, kind), value in self._entries.items():
            if fnmatch.fnmatchcase(group_kind.group, group) and fnmatch.fnmatchcase(group_kind.kind, kind):
                score = _literal_chars(group) + _literal_chars(kind)
                if best is None or score > best[0]:
                    best = (score, value)
        return None if best is None else best[1]

    def get(self, group: str, kind: str) -> T | None:
        """The value registered for exactly this pattern (no matching), or ``None``."""
        return self._entries.get((group, kind))

    def __len__(self) -> int:
        return len(self._entries)

    def patterns(self) -> tuple[tuple[str, str], ...]:
        """The registered ``(group, kind)`` patterns, in registration order."""
        return tuple(self._entries)
