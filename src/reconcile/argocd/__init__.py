"""Argo CD's conventions, each in one place.

The annotations and option strings it reads, how objects are tracked as an application's own, which objects
are hooks, and the ``Application`` manifest itself:

- :mod:`reconcile.argocd.annotations`: every annotation key reconcile reads (``argocd.argoproj.io/...``,
  Helm's hook annotations) and the ``Name=value`` option strings of ``sync-options``/``compare-options``.
- :mod:`reconcile.argocd.tracking`: the tracking annotation, ownership, Argo CD's instance names.
- :mod:`reconcile.argocd.hooks`: hooks, their phases, delete policies and waves.
- :mod:`reconcile.argocd.application`: ``argoproj.io/v1alpha1`` Applications read, built into Reconcilers and
  written back (imported on first use: it pulls in every part of the library).
- :mod:`reconcile.argocd.applicationset`: ApplicationSets as generators of Applications (imported on first use).
"""

import importlib
from typing import Any

from reconcile.argocd import annotations, hooks, tracking

__all__ = ["annotations", "application", "applicationset", "hooks", "tracking"]


def __getattr__(name: str) -> Any:
    # The Application model builds Reconcilers, so it imports the whole library; the conventions must not.
    if name in ("application", "applicationset"):
        return importlib.import_module(f"reconcile.argocd.{name}")
    raise AttributeError(f"module 'reconcile.argocd' has no attribute {name!r}")
