"""The sync operation: dry-run everything, then apply in kind order, then prune what the app owns and left Git.

A failing dry-run stops the operation before anything is written, so bad input is never half-applied.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from reconcile import tracking
from reconcile.annotations import has_option
from reconcile.diff import DiffResult
from reconcile.errors import ClusterError, NotFoundError
from reconcile.model import (
    GroupKind,
    Manifest,
    OperationPhase,
    Resource,
    ResourceKey,
    ResultCode,
    Revision,
    SyncAction,
)
from reconcile.protocols import Cluster, PropagationPolicy
from reconcile.schema import CRD, crd_kind
from reconcile.sync.order import apply_order, prune_order
from reconcile.sync.result import ResourceResult, SyncResult

_NAMESPACE = GroupKind("", "Namespace")


@attrs.frozen
class _ApplyTask:
    key: ResourceKey
    manifest: Manifest
    live: Manifest | None
    modified: bool
    skip_dry_run: bool


@attrs.frozen(kw_only=True)
class Syncer:
    """Applies targets and prunes leftovers on a cluster.

    Attributes:
        field_manager: The server-side apply field manager.
        force: Take over fields another manager changed (``--force-conflicts``), as the reference does, so a
            drifted field is healed instead of reported as a conflict.
        prune_propagation: Deletion propagation for pruned objects (the reference's default is foreground).
        apply_out_of_sync_only: Objects the comparison found in sync are reported ``unchanged`` without a request
            (Argo CD's ``ApplyOutOfSyncOnly=true``), so one changed object costs one write. ``False`` applies every
            object, as Argo CD does by default.
        workers: How many objects of one kind are applied at once (the cluster must be thread-safe).
    """

    field_manager: str = "reconcile"
    force: bool = True
    prune_propagation: PropagationPolicy = "Foreground"
    apply_out_of_sync_only: bool = True
    workers: int = 16

    def sync(
        self,
        cluster: Cluster,
        *,
        app: str,
        targets: Sequence[Resource],
        diff: DiffResult,
        prune: bool = False,
        dry_run: bool = False,
        create_namespace: str | None = None,
        revision: Revision | None = None,
        log: Any = None,
    ) -> SyncResult:
        """Run one sync operation to completion.

        Args:
            cluster: Where to apply.
            app: The application name; only objects tracked as this app's are ever pruned.
            targets: The desired objects, ready to apply (namespaced and tracked by the caller).
            diff: The comparison of ``targets`` with live state; its ``requires_pruning`` entries are pruned.
            prune: Whether objects that left Git are deleted (otherwise reported as ``PruneSkipped``).
            dry_run: Validate every task with the server and change nothing.
            create_namespace: A namespace to create first when it does not exist (Argo's ``CreateNamespace``).
            revision: Recorded on the result.
            log: A structlog-style logger bound to the app.

        Returns:
            The operation's result; object-level API failures are results, not exceptions.
        """
        started = dt.datetime.now(dt.UTC)
        tasks = self._apply_tasks(cluster, targets, diff, create_namespace)
        # Dry runs persist nothing, so all of them may run at once; writes go kind by kind, in order.
        results = self._concurrently([tasks], lambda task: self._dry_run(cluster, task))
        if any(not r.succeeded for r in results) or dry_run:
            if not any(not r.succeeded for r in results):
                results += self._prune(cluster, app, diff, prune=prune, dry_run=True, log=log)
            return self._finish(results, revision, dry_run, started)
        results = self._concurrently(_by_kind(tasks), lambda task: self._apply(cluster, task, log))
        if all(r.succeeded for r in results):
            results += self._prune(cluster, app, diff, prune=prune, dry_run=False, log=log)
        return self._finish(results, revision, dry_run, started)

    def _apply_tasks(
        self, cluster: Cluster, targets: Sequence[Resource], diff: DiffResult, create_namespace: str | None
    ) -> list[_ApplyTask]:
        by_key = {t.key: t for t in targets}
        live = {d.key: d.live for d in diff.resources}
        modified = {d.key for d in diff.resources if d.modified}
        new_namespaces = {k.name for k in by_key if k.group_kind == _NAMESPACE and live.get(k) is None}
        tasks: list[_ApplyTask] = []
        namespace_key = ResourceKey("", "Namespace", "", create_namespace or "")
        if create_namespace and namespace_key not in by_key and cluster.get(namespace_key) is None:
            # Created untracked, as the reference does: the app never prunes its own destination.
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": create_namespace}}
            tasks.append(_ApplyTask(namespace_key, namespace, None, modified=True, skip_dry_run=False))
            new_namespaces.add(create_namespace)
        new_kinds = {crd_kind(t.manifest) for t in targets if t.key.group_kind == CRD}
        unserved = {gk for gk in new_kinds if cluster.is_namespaced(gk) is None}
        for key in apply_order(by_key):
            # The server cannot dry-run an object whose namespace or kind this very sync creates first.
            skip = key.namespace in new_namespaces or key.group_kind in unserved
            tasks.append(_ApplyTask(key, by_key[key].manifest, live.get(key), key in modified, skip_dry_run=skip))
        return tasks

    def _concurrently(
        self, groups: Iterable[list[_ApplyTask]], run: Callable[[_ApplyTask], ResourceResult]
    ) -> list[ResourceResult]:
        """Run each group's tasks through a bounded pool, one group after the other; results in task order."""
        results: list[ResourceResult] = []
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="reconcile-sync") as pool:
            for group in groups:
                results += pool.map(run, group) if len(group) > 1 else [run(task) for task in group]
        return results

    def _dry_run(self, cluster: Cluster, task: _ApplyTask) -> ResourceResult:
        if self._in_sync(task):
            return self._unchanged(task, " (dry run)")
        action = SyncAction.CREATE if task.live is None else SyncAction.UPDATE
        if not task.skip_dry_run:
            try:
                cluster.apply(task.manifest, field_manager=self.field_manager, force=self.force, dry_run=True)
            except ClusterError as exc:
                return ResourceResult(key=task.key, status=ResultCode.SYNC_FAILED, action=action, message=exc.message)
        # A dry run writes nothing, so the resourceVersion cannot tell; the comparison can.
        verb = "created" if task.live is None else "configured" if task.modified else "unchanged"
        return ResourceResult(
            key=task.key, status=ResultCode.SYNCED, action=action, message=f"{task.key.display} {verb} (dry run)"
        )

    def _in_sync(self, task: _ApplyTask) -> bool:
        return self.apply_out_of_sync_only and task.live is not None and not task.modified

    @staticmethod
    def _unchanged(task: _ApplyTask, suffix: str = "") -> ResourceResult:
        return ResourceResult(
            key=task.key,
            status=ResultCode.SYNCED,
            action=SyncAction.NONE,
            message=f"{task.key.display} unchanged{suffix}",
        )

    def _apply(self, cluster: Cluster, task: _ApplyTask, log: Any) -> ResourceResult:
        if self._in_sync(task):
            return self._unchanged(task)
        action = SyncAction.CREATE if task.live is None else SyncAction.UPDATE
        try:
            after = cluster.apply(task.manifest, field_manager=self.field_manager, force=self.force)
        except ClusterError as exc:
            if log is not None:
                log.warning("reconcile.sync.apply_failed", key=str(task.key), error=exc.message)
            return ResourceResult(key=task.key, status=ResultCode.SYNC_FAILED, action=action, message=exc.message)
        message = f"{task.key.display} {_verb(task.live, after)}"
        if log is not None:
            log.info("reconcile.sync.applied", key=str(task.key), message=message)
        return ResourceResult(key=task.key, status=ResultCode.SYNCED, action=action, message=message, stored=after)

    def _prune(
        self, cluster: Cluster, app: str, diff: DiffResult, *, prune: bool, dry_run: bool, log: Any
    ) -> list[ResourceResult]:
        leftovers = {d.key: d.live for d in diff.resources if d.requires_pruning and d.live is not None}
        results = []
        for key in prune_order(leftovers):
            live = leftovers[key]
            if not tracking.is_owned_by(live, app):
                # The differ only reports what the app owns; checking again costs nothing and guards the delete.
                continue
            if has_option(live, "Prune=false"):
                status, message = ResultCode.PRUNE_SKIPPED, "ignored (no prune)"
            elif not prune:
                status, message = ResultCode.PRUNE_SKIPPED, "ignored (requires pruning)"
            elif dry_run:
                status, message = ResultCode.PRUNED, "pruned (dry run)"
            else:
                status, message = self._delete(cluster, key)
            if log is not None and not dry_run:
                log.info("reconcile.sync.pruned", key=str(key), status=str(status), message=message)
            results.append(ResourceResult(key=key, status=status, action=SyncAction.PRUNE, message=message))
        return results

    def _delete(self, cluster: Cluster, key: ResourceKey) -> tuple[ResultCode, str]:
        try:
            cluster.delete(key, propagation=self.prune_propagation)
        except NotFoundError:
            return ResultCode.PRUNED, "pruned"
        except ClusterError as exc:
            return ResultCode.SYNC_FAILED, exc.message
        return ResultCode.PRUNED, "pruned"

    @staticmethod
    def _finish(
        results: list[ResourceResult], revision: Revision | None, dry_run: bool, started: dt.datetime
    ) -> SyncResult:
        failed = [r for r in results if not r.succeeded]
        if failed:
            phase = OperationPhase.FAILED
            message = f"one or more objects failed to apply ({len(failed)} of {len(results)})"
        else:
            phase = OperationPhase.SUCCEEDED
            message = "successfully synced (all tasks run)"
        return SyncResult(
            phase=phase,
            message=message,
            resources=tuple(results),
            revision=revision,
            dry_run=dry_run,
            started_at=started,
        )


def _by_kind(tasks: list[_ApplyTask]) -> list[list[_ApplyTask]]:
    """Tasks grouped into runs of one kind, keeping their order."""
    return [list(group) for _, group in itertools.groupby(tasks, key=lambda task: task.key.group_kind)]


def _verb(before: Manifest | None, after: Manifest) -> str:
    """Kubectl's word for what an apply did: created, configured or unchanged."""
    if before is None:
        return "created"
    if _resource_version(before) == _resource_version(after):
        return "unchanged"
    return "configured"


def _resource_version(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))
