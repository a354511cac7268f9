"""Per-object options, read from Argo CD's annotations: ``argocd.argoproj.io/sync-options`` and ``/compare-options``.

Each holds comma-separated ``Name=value`` strings spelled as the reference spells them (``Prune=false``,
``ServerSideDiff=false``).
"""

from __future__ import annotations

from reconcile.model import Manifest

SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"


def object_options(obj: Manifest | None, annotation: str = SYNC_OPTIONS) -> frozenset[str]:
    """The options an object asks for in ``annotation``, whitespace removed."""
    if obj is None:
        return frozenset()
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(annotation) or ""
    return frozenset(part.strip() for part in str(value).split(",") if part.strip())


def has_option(obj: Manifest | None, option: str, annotation: str = SYNC_OPTIONS) -> bool:
    """Whether ``obj`` carries ``option`` (``"Prune=false"``) in ``annotation`` (its sync options by default)."""
    return option in object_options(obj, annotation)
