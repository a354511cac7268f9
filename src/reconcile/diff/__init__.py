"""Comparing desired state with live state.

:func:`compare` compares one object; :class:`ArgoDiffer` compares a whole application and returns a
:class:`DiffResult` of :class:`ResourceDiff` objects, each with its :class:`Change` list, a unified diff and
notebook HTML. Server-only fields are left out (:mod:`~reconcile.diff.normalize`) and Secret values are masked
(:mod:`~reconcile.diff.mask`) before anything is stored or shown; :class:`IgnoreRule` (Argo CD's
``ignoreDifferences``) leaves chosen fields out as well. :class:`DiffSettings` holds what every application
shares: system-wide rules, :class:`KnownTypeField` registrations, sensitive annotations.
"""

from __future__ import annotations

from reconcile.diff.changes import Change
from reconcile.diff.differ import ArgoDiffer, compare
from reconcile.diff.ignore import IgnoreRule
from reconcile.diff.known_types import KnownTypeField
from reconcile.diff.result import DiffResult, ResourceDiff
from reconcile.diff.settings import DiffSettings

__all__ = [
    "ArgoDiffer",
    "Change",
    "DiffResult",
    "DiffSettings",
    "IgnoreRule",
    "KnownTypeField",
    "ResourceDiff",
    "compare",
]
