"""Comparing desired state with live state.

:func:`compare` compares one object; :class:`ArgoDiffer` compares a whole application and returns a
:class:`DiffResult` of :class:`ResourceDiff` objects, each with its :class:`Change` list, a unified diff and
notebook HTML. Server-only fields are left out and Secret values are masked before anything is stored or shown;
:class:`IgnoreRule` (Argo CD's ``ignoreDifferences``) leaves chosen fields out as well (:func:`as_rules` reads
them from Argo CD's form; :func:`keep_live_values` keeps ignored fields as they are live, for
``RespectIgnoreDifferences``). :class:`DiffSettings` holds what every application
shares: system-wide rules, :class:`KnownTypeField` registrations, sensitive annotations.
"""

from __future__ import annotations

from reconcile.diff._changes import Change
from reconcile.diff._differ import ArgoDiffer, compare
from reconcile.diff._ignore import IgnoreRule, as_rules, keep_live_values
from reconcile.diff._known_types import KnownTypeField
from reconcile.diff._protocol import Differ, IncrementalDiffer
from reconcile.diff._result import DiffResult, ResourceDiff
from reconcile.diff._settings import DiffSettings

__all__ = [
    "ArgoDiffer",
    "Change",
    "DiffResult",
    "DiffSettings",
    "Differ",
    "IgnoreRule",
    "IncrementalDiffer",
    "KnownTypeField",
    "ResourceDiff",
    "as_rules",
    "compare",
    "keep_live_values",
]
