"""Every annotation reconcile reads, and the per-object option strings of two of them.

The keys are Argo CD's (``argocd.argoproj.io/...``) and Helm's hook annotations, which Argo CD honours.
``sync-options`` and ``compare-options`` hold comma-separated ``Name=value`` strings spelled as the reference
spells them (``Prune=false``, ``ServerSideDiff=false``).
"""

from __future__ import annotations

from reconcile.model import Manifest

__all__ = [
    "CLIENT_SIDE_APPLY_MIGRATION_MANAGER",
    "COMPARE_OPTIONS",
    "DEFAULT_CLIENT_SIDE_APPLY_MANAGER",
    "HELM_HOOK",
    "HELM_HOOK_DELETE_POLICY",
    "HELM_HOOK_WEIGHT",
    "HOOK",
    "HOOK_DELETE_POLICY",
    "HOOK_FINALIZER",
    "IGNORE_HEALTHCHECK",
    "IGNORE_RESTART_POLICY",
    "RESPECT_IGNORE_DIFFERENCES",
    "SECRET_TYPE",
    "SYNC_OPTIONS",
    "SYNC_WAVE",
    "has_option",
    "object_options",
]

SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
"""Per-object sync options (``Prune=false``, ``Replace=true``...)."""
COMPARE_OPTIONS = "argocd.argoproj.io/compare-options"
"""Per-object compare options (``IgnoreExtraneous``, ``ServerSideDiff=false``)."""
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
"""The object's wave, an integer."""
HOOK = "argocd.argoproj.io/hook"
"""The phases an object runs in as a hook (``PreSync``, ``Sync``, ``PostSync``, ``SyncFail``, ``Skip``)."""
HOOK_DELETE_POLICY = "argocd.argoproj.io/hook-delete-policy"
"""When a hook object is deleted (``HookSucceeded``, ``HookFailed``, ``BeforeHookCreation``)."""
HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"
"""The finalizer a running hook holds; a hook being deleted with it is still judged by its health checks."""
IGNORE_HEALTHCHECK = "argocd.argoproj.io/ignore-healthcheck"
"""With ``"true"``, the object gets no health verdict and does not count towards its application's health."""
IGNORE_RESTART_POLICY = "argocd.argoproj.io/ignore-restart-policy"
"""With ``"true"``, a Running pod is judged as if its restartPolicy were Always (ignored on hooks)."""
HELM_HOOK = "helm.sh/hook"
"""Helm's hook annotation (``pre-install``, ``post-upgrade``...), honoured when Argo CD's names no phase."""
HELM_HOOK_DELETE_POLICY = "helm.sh/hook-delete-policy"
"""Helm's delete policies (``before-hook-creation``, ``hook-succeeded``, ``hook-failed``)."""
HELM_HOOK_WEIGHT = "helm.sh/hook-weight"
"""Helm's weight, the wave when ``sync-wave`` is absent."""

SECRET_TYPE = "argocd.argoproj.io/secret-type"  # noqa: S105 - a label key, not a secret
"""A label, on Secrets: ``repository`` (credentials for one repository) or ``repo-creds`` (for a URL prefix)."""

CLIENT_SIDE_APPLY_MIGRATION_MANAGER = "argocd.argoproj.io/client-side-apply-migration-manager"
"""On an Application: the field manager whose Update-owned fields a server-side apply takes over (default below)."""
DEFAULT_CLIENT_SIDE_APPLY_MANAGER = "kubectl-client-side-apply"
"""The manager ``kubectl apply`` (client-side) records; the one migrated unless the annotation names another."""

RESPECT_IGNORE_DIFFERENCES = "RespectIgnoreDifferences"
"""The sync option (``RespectIgnoreDifferences=true``) that keeps ignored fields as they are live on apply."""


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
