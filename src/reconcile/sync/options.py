"""Per-object sync options, read from Argo CD's ``argocd.argoproj.io/sync-options`` annotation."""

from __future__ import annotations

from reconcile.model import Manifest

SYNC_OPTIONS_ANNOTATION = "argocd.argoproj.io/sync-options"


def object_sync_options(obj: Manifest | None) -> frozenset[str]:
    """The options an object asks for, as the reference spells them (``Prune=false``), whitespace removed."""
    if obj is None:
        return frozenset()
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(SYNC_OPTIONS_ANNOTATION) or ""
    return frozenset(part.strip() for part in str(value).split(",") if part.strip())


def has_option(obj: Manifest | None, option: str) -> bool:
    """Whether ``obj`` carries ``option`` (``"Prune=false"``) in its sync-options annotation."""
    return option in object_sync_options(obj)
