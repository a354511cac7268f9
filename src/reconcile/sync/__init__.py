"""Sync: apply the desired state in order, prune what the app owns and left Git."""

from reconcile.sync.order import KIND_ORDER, apply_order, prune_order
from reconcile.sync.result import ResourceResult, SyncResult
from reconcile.sync.syncer import Syncer

__all__ = ["KIND_ORDER", "ResourceResult", "SyncResult", "Syncer", "apply_order", "prune_order"]
