"""Sync: plan the desired state into phases and waves, then apply, run hooks and prune, gated by health.

:func:`build_plan` turns a comparison into a :class:`SyncPlan` (a value people can read before anything
happens); a :class:`SyncOperation` runs one, a step per call; :class:`ArgoSyncer` does both for the Reconciler.
"""

from reconcile.argocd.hooks import HookDeletePolicy, SyncPhase, split_hooks
from reconcile.sync._actions import ActionChange, ActionOutcome, run_action
from reconcile.sync._events import (
    Event,
    EventEmitter,
    SyncFinished,
    SyncStarted,
    TaskApplied,
    WaveFinished,
    WaveStarted,
)
from reconcile.sync._operation import SyncOperation
from reconcile.sync._options import ObjectOptions, Permission, SyncOptions
from reconcile.sync._order import KIND_ORDER, apply_order, prune_order
from reconcile.sync._plan import SyncPlan, SyncTask, build_plan
from reconcile.sync._protocol import PlanningSyncer, Syncer
from reconcile.sync._result import ResourceResult, SyncResult
from reconcile.sync._retry import RetryPolicy
from reconcile.sync._syncer import ArgoSyncer

__all__ = [
    "KIND_ORDER",
    "ActionChange",
    "ActionOutcome",
    "ArgoSyncer",
    "Event",
    "EventEmitter",
    "HookDeletePolicy",
    "ObjectOptions",
    "Permission",
    "PlanningSyncer",
    "ResourceResult",
    "RetryPolicy",
    "SyncFinished",
    "SyncOperation",
    "SyncOptions",
    "SyncPhase",
    "SyncPlan",
    "SyncResult",
    "SyncStarted",
    "SyncTask",
    "Syncer",
    "TaskApplied",
    "WaveFinished",
    "WaveStarted",
    "apply_order",
    "build_plan",
    "prune_order",
    "run_action",
    "split_hooks",
]
