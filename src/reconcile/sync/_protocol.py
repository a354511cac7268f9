"""The syncer plug points: running a sync to its end, and planning and stepping one (what the CLI and hosts use)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from reconcile.diff import DiffResult
from reconcile.model import Manifest, Resource, Revision
from reconcile.protocols import Cluster
from reconcile.sync._operation import SyncOperation
from reconcile.sync._plan import SyncPlan
from reconcile.sync._result import SyncResult


@runtime_checkable
class Syncer(Protocol):
    """Runs a sync operation. The library's is :class:`ArgoSyncer`."""

    def sync(
        self,
        cluster: Cluster,
        *,
        app: str,
        targets: Sequence[Resource],
        diff: DiffResult,
        hooks: Sequence[Resource] = (),
        prune: bool = False,
        dry_run: bool = False,
        create_namespace: str | Manifest | None = None,
        revision: Revision | None = None,
    ) -> SyncResult:
        """Apply ``targets``, run ``hooks`` in their phases and prune what ``diff`` says requires pruning.

        Failures per object are results, not exceptions.
        """
        ...


@runtime_checkable
class PlanningSyncer(Syncer, Protocol):
    """A syncer that also plans and hands out step-driven operations (:meth:`Reconciler.plan`, ``start_sync``)."""

    def plan(
        self,
        cluster: Cluster,
        *,
        app: str,
        targets: Sequence[Resource],
        diff: DiffResult,
        hooks: Sequence[Resource] = (),
        prune: bool = False,
        create_namespace: str | Manifest | None = None,
        revision: Revision | None = None,
        allow_empty: bool = False,
    ) -> SyncPlan:
        """What a sync would do, in order; writes nothing."""
        ...

    def start(
        self,
        cluster: Cluster,
        plan: SyncPlan,
        *,
        app: str,
        dry_run: bool = False,
        revision: Revision | None = None,
    ) -> SyncOperation:
        """A sync operation for ``plan``, not started: driven with ``step()`` or ``run()``."""
        ...
