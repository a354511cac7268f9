"""Hooks and waves, read from Argo CD's and Helm's annotations.

A hook is an object the sync creates at a phase (``argocd.argoproj.io/hook: PreSync``) instead of managing it like
the rest of the app: it is never diffed and never pruned as a leftover. Helm's ``helm.sh/hook`` is honoured when
the Argo CD annotation names no phase, with the reference's mapping (``pre-install``/``pre-upgrade`` -> PreSync,
``post-install``/``post-upgrade`` -> PostSync; other Helm hooks, such as ``test``, never run; ``crd-install`` is
not a hook at all, as Helm itself treats those CRDs as plain objects).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Sequence

from reconcile.argocd.annotations import (
    HELM_HOOK,
    HELM_HOOK_DELETE_POLICY,
    HELM_HOOK_WEIGHT,
    HOOK,
    HOOK_DELETE_POLICY,
    SYNC_WAVE,
)
from reconcile.errors import ConfigurationError
from reconcile.model import Manifest, Resource, ResourceKey

__all__ = [
    "HookDeletePolicy",
    "SyncPhase",
    "delete_policies",
    "hook_name",
    "hook_phases",
    "is_hook",
    "split_hooks",
    "sync_wave",
]

_SKIP = "Skip"
_INTEGER = re.compile(r"[+-]?[0-9]+")
_MAX_NAME = 253  # the API server's limit on metadata.name


class SyncPhase(enum.StrEnum):
    """The phases of a sync operation, in the order they run (``SyncFail`` only when the operation fails)."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"


PHASE_ORDER: dict[SyncPhase, int] = {phase: rank for rank, phase in enumerate(SyncPhase)}
"""Each phase's place in a plan."""
_PHASE_NAMES = frozenset(phase.value for phase in SyncPhase)


class HookDeletePolicy(enum.StrEnum):
    """When a hook object is deleted."""

    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"
    BEFORE_HOOK_CREATION = "BeforeHookCreation"


_HELM_PHASES = {
    "pre-install": SyncPhase.PRE_SYNC,
    "pre-upgrade": SyncPhase.PRE_SYNC,
    "post-install": SyncPhase.POST_SYNC,
    "post-upgrade": SyncPhase.POST_SYNC,
}
_HELM_POLICIES = {
    "before-hook-creation": HookDeletePolicy.BEFORE_HOOK_CREATION,
    "hook-succeeded": HookDeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": HookDeletePolicy.HOOK_FAILED,
}


def _annotations(obj: Manifest) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _csv(obj: Manifest, annotation: str) -> list[str]:
    return [part.strip() for part in str(_annotations(obj).get(annotation) or "").split(",") if part.strip()]


def _ordered(phases: set[SyncPhase]) -> tuple[SyncPhase, ...]:
    return tuple(sorted(phases, key=PHASE_ORDER.__getitem__))


def hook_phases(obj: Manifest) -> tuple[SyncPhase, ...] | None:
    """The phases ``obj`` runs in as a hook, or ``None`` when it is not a hook.

    An empty tuple means the object is never applied: ``argocd.argoproj.io/hook: Skip``, or a hook naming no
    phase the library runs (Helm's ``test``, ``pre-delete``...). ``Skip`` alongside a phase is ignored, as in the
    reference.
    """
    annotations = _annotations(obj)
    if HOOK in annotations:
        names = _csv(obj, HOOK)
        known = {name for name in names if name == _SKIP or name in _PHASE_NAMES}
        if known == {_SKIP}:
            return ()
        phases = {SyncPhase(name) for name in known if name != _SKIP}
        # An Argo CD annotation that names no phase lets Helm's annotation speak, as the reference does.
        return _ordered(phases or _helm_phases(obj))
    helm = annotations.get(HELM_HOOK)
    if helm is None or helm == "crd-install":
        return None
    return _ordered(_helm_phases(obj))


def _helm_phases(obj: Manifest) -> set[SyncPhase]:
    return {_HELM_PHASES[name] for name in _csv(obj, HELM_HOOK) if name in _HELM_PHASES}


def is_hook(obj: Manifest) -> bool:
    """Whether ``obj`` is a hook (including one that is skipped)."""
    return hook_phases(obj) is not None


def delete_policies(obj: Manifest) -> frozenset[HookDeletePolicy]:
    """The hook's delete policies from Argo CD's and Helm's annotations; ``BeforeHookCreation`` when none."""
    values = {item.value for item in HookDeletePolicy}
    policies = {HookDeletePolicy(name) for name in _csv(obj, HOOK_DELETE_POLICY) if name in values}
    policies |= {_HELM_POLICIES[name] for name in _csv(obj, HELM_HOOK_DELETE_POLICY) if name in _HELM_POLICIES}
    return frozenset(policies or {HookDeletePolicy.BEFORE_HOOK_CREATION})


def sync_wave(obj: Manifest) -> int:
    """The object's wave: ``argocd.argoproj.io/sync-wave``, else ``helm.sh/hook-weight``, else 0.

    Raises:
        ConfigurationError: When the annotation is not an integer; the message names the object.
    """
    annotations = _annotations(obj)
    for annotation in (SYNC_WAVE, HELM_HOOK_WEIGHT):
        if annotation not in annotations:
            continue
        text = str(annotations[annotation]).strip()
        if not _INTEGER.fullmatch(text):
            key = ResourceKey.from_manifest(obj)
            name = key.name or (obj.get("metadata") or {}).get("generateName") or ""
            where = f"{key.group_kind}/{key.namespace}/{name}"
            raise ConfigurationError(f"{where}: {annotation} {text!r} is not an integer")
        return int(text)
    return 0


def split_hooks(resources: Sequence[Resource]) -> tuple[tuple[Resource, ...], tuple[Resource, ...]]:
    """Split rendered objects into (normal objects, hooks); skipped hooks are in neither."""
    normal: list[Resource] = []
    hooks: list[Resource] = []
    for resource in resources:
        phases = hook_phases(resource.manifest)
        if phases is None:
            normal.append(resource)
        elif phases:
            hooks.append(resource)
    return tuple(normal), tuple(hooks)


def hook_name(obj: Manifest, operation_id: str, phase: SyncPhase | None = None) -> str:
    """The name a hook is created with.

    A named hook keeps its name. A hook with only ``metadata.generateName`` gets ``generateName`` plus a short
    hash of the operation, the phase and the object: unique per operation and phase like the reference's
    suffix, yet deterministic, so a resumed operation finds the hook it created before.

    Raises:
        ConfigurationError: When the object has neither a name nor a generateName.
    """
    metadata = obj.get("metadata") or {}
    name = metadata.get("name")
    if isinstance(name, str) and name:
        return name
    prefix = metadata.get("generateName")
    if not isinstance(prefix, str) or not prefix:
        key = ResourceKey.from_manifest(obj)
        raise ConfigurationError(f"{key.group_kind}/{key.namespace}: a hook needs a name or a generateName")
    content = json.dumps([operation_id, str(phase or ""), obj], sort_keys=True, separators=(",", ":"), default=str)
    suffix = hashlib.sha256(content.encode()).hexdigest()[:10]
    return f"{prefix[: _MAX_NAME - len(suffix)]}{suffix}"
