"""Comparing desired state with live state.

:func:`compare` compares one object; :class:`Differ` compares a whole application and returns a
:class:`DiffResult` of :class:`ResourceDiff` objects, each with its :class:`Change` list, a unified diff and
notebook HTML. Server-only fields are left out (:mod:`~reconcile.diff.normalize`) and Secret values are masked
(:mod:`~reconcile.diff.mask`) before anything is stored or shown; :class:`IgnoreRule` (Argo CD's
``ignoreDifferences``) leaves chosen fields out as well.
"""

from __future__ import annotations

from reconcile.diff.changes import Change
from reconcile.diff.differ import Differ, compare
from reconcile.diff.ignore import IgnoreRule
from reconcile.diff.result import DiffResult, ResourceDiff

__all__ = ["Change", "DiffResult", "Differ", "IgnoreRule", "ResourceDiff", "compare"]
