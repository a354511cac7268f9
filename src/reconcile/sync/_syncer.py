"""The syncer: plans a sync (:mod:`~reconcile.sync._plan`) and runs it (:mod:`~reconcile.sync._operation`).

A failing dry-run stops the operation before anything is written, so bad input is never half-applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from reconcile.argocd.tracking import ArgoCDTracking
from reconcile.diff import DiffResult
from reconcile.model import Manifest, Resource, ResourceKey, Revision
from reconcile.protocols import Cluster, HealthChecks
from reconcile.sync._operation import SyncOperation
from reconcile.sync._options import SyncOptions
from reconcile.sync._plan import SyncPlan, build_plan
from reconcile.sync._result import SyncResult


@attrs.frozen(kw_only=True)
class ArgoSyncer:
    """Plans and runs sync operations on a cluster.

    Attributes:
        field_manager: The server-side apply field manager.
        options: The app-level sync options (Argo CD's strings through :meth:`SyncOptions.parse`). By default
            only objects the comparison found out of sync are applied (``ApplyOutOfSyncOnly=true``), so one
            changed object costs one write.
        checks: Custom health checks, tried before the built-in ones, for the waits between waves.
        health_timeout: Seconds one wave may take to become healthy before the operation fails.
        poll: The longest pause between health checks while an operation waits: the pauses start at 10 ms and
            double up to this.
        workers: How many objects of one kind are written at once (the cluster must be thread-safe).
        logger: A structlog-style logger for the operations' events (``reconcile.sync.*``); none by default.
        adopted: The Argo CD application the app takes over (:class:`~reconcile.argocd.tracking.ArgoCDTracking`):
            objects Argo CD tracked for it are the app's, pruned when they leave Git.
        on_event: The host's callback for the operations' :mod:`reconcile.events` (sync started, waves, tasks,
            sync finished).
    """

    field_manager: str = "reconcile"
    options: SyncOptions = attrs.field(factory=lambda: SyncOptions(apply_out_of_sync_only=True))
    checks: HealthChecks | Sequence[HealthChecks] | None = None
    health_timeout: float = 300.0
    poll: float = 1.0
    workers: int = 16
    logger: Any = attrs.field(default=None, eq=False, repr=False)
    adopted: ArgoCDTracking | None = None
    on_event: Callable[[Any], None] | None = attrs.field(default=None, eq=False, repr=False)

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
        """What a sync would do, in order; reads which kinds the cluster serves, writes nothing.

        ``create_namespace`` is a namespace's name, or a Namespace manifest whose labels and annotations it must
        carry: it is created when missing, and given the missing labels and annotations when it exists.
        """
        namespace, existing = _namespace_request(cluster, create_namespace)
        return build_plan(
            app=app,
            targets=targets,
            diff=diff,
            hooks=hooks,
            options=self.options,
            prune=prune,
            operation_id=_operation_id(app, revision),
            served=cluster.is_namespaced,
            allow_empty=allow_empty,
            create_namespace=namespace,
            existing_namespace=existing,
            adopted=self.adopted,
            field_manager=self.field_manager,
        )

    def start(
        self,
        cluster: Cluster,
        plan: SyncPlan,
        *,
        app: str,
        dry_run: bool = False,
        revision: Revision | None = None,
    ) -> SyncOperation:
        """A sync operation for ``plan``, not started: drive it with ``step()`` or ``run()``."""
        return SyncOperation(
            cluster,
            plan,
            app=app,
            field_manager=self.field_manager,
            checks=self.checks,
            dry_run=dry_run,
            health_timeout=self.health_timeout,
            max_check_interval=self.poll,
            workers=self.workers,
            revision=revision,
            logger=self.logger,
            on_event=self.on_event,
        )

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
        """Plan and run one sync operation to its end (waiting for health between waves).

        Args:
            cluster: Where to apply.
            app: The application name; only objects tracked as this app's are ever pruned.
            targets: The desired objects, ready to apply (namespaced and tracked by the caller).
            diff: The comparison of ``targets`` with live state; its ``requires_pruning`` entries are pruned.
            hooks: Hook objects (``argocd.argoproj.io/hook``, ``helm.sh/hook``), run in their phases.
            prune: Whether objects that left Git are deleted (otherwise reported as ``PruneSkipped``).
            dry_run: Validate every task with the server and change nothing.
            create_namespace: A namespace to create first when it does not exist (Argo's ``CreateNamespace``), or a
                Namespace manifest with its managed labels and annotations (see :meth:`plan`).
            revision: Recorded on the result.

        Returns:
            The operation's result; object-level API failures are results, not exceptions.
        """
        plan = self.plan(
            cluster,
            app=app,
            targets=targets,
            diff=diff,
            hooks=hooks,
            prune=prune,
            create_namespace=create_namespace,
            revision=revision,
            allow_empty=True,  # the caller decided: the Reconciler refuses an empty render itself
        )
        operation = self.start(cluster, plan, app=app, dry_run=dry_run, revision=revision)
        return operation.run(poll=self.poll)


def _namespace_request(
    cluster: Cluster, wanted: str | Manifest | None
) -> tuple[str | Manifest | None, Manifest | None]:
    """``(namespace to plan, its live copy)``: nothing when it exists with every managed label and annotation."""
    if not wanted:
        return None, None
    manifest: Manifest = wanted if not isinstance(wanted, str) else {"metadata": {"name": wanted}}
    metadata: dict[str, Any] = manifest.get("metadata") or {}
    live = cluster.get(ResourceKey("", "Namespace", "", str(metadata.get("name") or "")))
    if live is None:
        return wanted, None
    have = live.get("metadata") or {}
    for part in ("labels", "annotations"):
        present = have.get(part) or {}
        if any(present.get(name) != value for name, value in (metadata.get(part) or {}).items()):
            return wanted, live
    return None, None


def _operation_id(app: str, revision: Revision | None) -> str:
    """Names unnamed hooks: the same for every run of one revision, so a resumed sync finds its hooks."""
    text = json.dumps([app, revision.sha if revision is not None else ""])
    return hashlib.sha256(text.encode()).hexdigest()[:12]
