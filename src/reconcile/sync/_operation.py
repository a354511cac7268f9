"""A sync operation that advances one step per call, so a host program can drive it from its own loop.

The steps follow the reference engine: first a dry run of every task (any refusal and nothing is written);
then each group of the plan (phase, wave) in order: its objects applied (one kind at a time, objects of one
kind concurrently) or pruned, its hooks created; then, before the next group, a wait until what was just
written is healthy and every hook has completed. A Degraded object, a failed hook or a timeout fails the
operation, and the SyncFail hooks run. The last group ends the operation without waiting when it holds no
hook, as the reference does. :meth:`SyncOperation.step` never blocks on health: it looks once and returns, and
:attr:`SyncOperation.next_check_in` says how long a driver should wait before the next look: a backoff that
starts at 10 ms, so a wave that is healthy at once costs milliseconds, not a poll interval.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconcile.apiserver import fields
from reconcile.argocd import tracking
from reconcile.argocd.annotations import HOOK_FINALIZER
from reconcile.argocd.hooks import HookDeletePolicy, SyncPhase
from reconcile.deadline import carried, remaining
from reconcile.errors import ClusterError, InvalidError, NotFoundError
from reconcile.health import assess
from reconcile.model import (
    Health,
    HealthStatus,
    Manifest,
    OperationPhase,
    ResourceKey,
    ResultCode,
    Revision,
    SyncAction,
)
from reconcile.protocols import ClientSideApplyCluster, Cluster, HealthChecks
from reconcile.sync._events import EventEmitter, SyncFinished, SyncStarted, TaskApplied, WaveFinished, WaveStarted
from reconcile.sync._plan import SyncPlan, SyncTask
from reconcile.sync._result import ResourceResult, SyncResult

_SUCCEEDED = "successfully synced (all tasks run)"
_INVALID = "one or more synchronization tasks are not valid"
_FAILED_APPLY = "one or more objects failed to apply"
_FAILED_HOOK = "one or more synchronization tasks completed unsuccessfully"
_TERMINATED = "Operation terminated"
_FIRST_CHECK = 0.01  # seconds before the first health check of a wave; doubled after each that finds it pending
_Step = tuple[SyncPhase, int, tuple[SyncTask, ...]]


class SyncOperation:
    """One sync of a :class:`~reconcile.sync._plan.SyncPlan` against a cluster.

    Call :meth:`step` until it returns a phase other than ``Running`` (or use :meth:`run`); read
    :attr:`result` at any time. Thread-compatible, not thread-safe: drive it from one thread.

    Args:
        cluster: Where to sync.
        plan: What to do, in order.
        app: The application; it tracks what this operation creates.
        field_manager: The server-side apply field manager.
        checks: Custom health checks, tried before the built-in ones.
        dry_run: Validate every task with the server and change nothing.
        health_timeout: Seconds to wait for one group to become healthy before the operation fails.
        max_check_interval: The longest :attr:`next_check_in`: the backoff between health checks stops growing
            here.
        workers: How many objects of one kind are written at once.
        revision: Recorded on the result (and bound to every log event).
        logger: A structlog-style logger for the operation's events (``reconcile.sync.*``); none by default.
        clock: Monotonic seconds (tests pass a fake).
        on_event: The host's callback for :mod:`reconcile.events` (sync started, wave started and finished, task
            applied, sync finished); one that raises is logged and never breaks the operation.
    """

    def __init__(
        self,
        cluster: Cluster,
        plan: SyncPlan,
        *,
        app: str,
        field_manager: str = "reconcile",
        checks: HealthChecks | Sequence[HealthChecks] | None = None,
        dry_run: bool = False,
        health_timeout: float = 300.0,
        max_check_interval: float = 1.0,
        workers: int = 16,
        revision: Revision | None = None,
        logger: Any = None,
        clock: Callable[[], float] = time.monotonic,
        on_event: Callable[[Any], None] | None = None,
    ) -> None:
        self.cluster = cluster
        self.plan = plan
        self.app = app
        self.field_manager = field_manager
        self.checks = checks
        self.dry_run = dry_run
        self.health_timeout = health_timeout
        self.max_check_interval = max_check_interval
        self.workers = workers
        self.revision = revision
        self._log = logger.bind(revision=revision.sha) if logger is not None and revision is not None else logger
        self._clock = clock
        self.phase = OperationPhase.RUNNING
        self.message = "starting"
        self._started = dt.datetime.now(dt.UTC)
        self._results: dict[tuple[ResourceKey, SyncPhase], ResourceResult] = {}
        self._steps: list[_Step] = [step for step in plan.steps() if step[0] is not SyncPhase.SYNC_FAIL]
        self._fail_steps: list[_Step] = [step for step in plan.steps() if step[0] is SyncPhase.SYNC_FAIL]
        self._validated = False
        self._waiting: tuple[SyncTask, ...] = ()
        self._deadline = 0.0
        self._check_in = _FIRST_CHECK
        self._terminated_as = _TERMINATED
        self._failure: str | None = None  # set once the operation failed; SyncFail hooks then run
        self._hooks: list[SyncTask] = []  # hooks created, for their delete policies
        self._prune_confirmed = False
        self._awaiting_confirmation = False
        self._events = EventEmitter(on_event, self._log)
        self._wave: tuple[SyncPhase, int] | None = None  # the wave written and not yet finished

    # ------------------------------------------------------------------------------------------------
    # Driving.

    def step(self) -> OperationPhase:
        """Advance the operation by one step and return its phase (``Running`` until it ends)."""
        if self.phase is OperationPhase.TERMINATING:
            self._finish(OperationPhase.FAILED, self._terminated_as, terminated=True)
        if self.phase is not OperationPhase.RUNNING:
            return self.phase
        if not self._validated:
            self._validate()
        elif self._waiting:
            self._check_waiting()
        elif self._failure is not None:
            self._next_fail_step()
        else:
            self._next_step()
        return self.phase

    def run(self, timeout: float | None = None, poll: float = 1.0) -> SyncResult:
        """Step until the operation ends; return the result.

        Args:
            timeout: Seconds after which the operation is terminated (``None``: none of its own). A deadline set
                by ``reconcile.deadline.bounded`` (a Reconciler's ``pass_timeout``) terminates it too.
            poll: Seconds between looks while a prune waits for :meth:`confirm_prune`.
        """
        own = None if timeout is None else self._clock() + timeout
        while self.step() in (OperationPhase.RUNNING, OperationPhase.TERMINATING):
            if self.phase is OperationPhase.TERMINATING:
                continue
            left = remaining()
            if own is not None and self._clock() >= own:
                self.terminate(f"its timeout of {timeout:g} s passed")
            elif left is not None and left <= 0:
                self.terminate("the pass's deadline passed")
            elif self._waiting or self._awaiting_confirmation:
                pause = self.next_check_in if self._waiting else poll
                time.sleep(max(0.0, min(pause, left if left is not None else pause)))
        return self.result

    @property
    def next_check_in(self) -> float:
        """Seconds a driver should wait before the next :meth:`step` (0 when the next step has work to do).

        While a wave is waited for, 10 ms after its objects were written, then twice as long after each look
        that finds them pending, up to ``max_check_interval``.
        """
        return self._check_in if self._waiting else 0.0

    def terminate(self, reason: str | None = None) -> None:
        """Stop at the next step: running hooks are deleted and the operation fails as terminated.

        Args:
            reason: Why, for the result's message (``Operation terminated: <reason> while waiting for ...``).
        """
        if self.phase is OperationPhase.RUNNING:
            # Argo CD says only "Operation terminated"; the reason and what it was waiting for say more.
            waiting = f" while {self.message}" if self.message.startswith("waiting for ") else ""
            self._terminated_as = f"{_TERMINATED}{f': {reason},' if reason and waiting else ''}{waiting}"
            if reason and not waiting:
                self._terminated_as = f"{_TERMINATED}: {reason}"
            self.phase = OperationPhase.TERMINATING
            self.message = "terminating"

    def confirm_prune(self) -> None:
        """Allow the prune of objects marked ``Prune=confirm``; the operation waits for this call."""
        self._prune_confirmed = True

    @property
    def result(self) -> SyncResult:
        """What the operation has done so far (its phase ``Running`` until it ends)."""
        return SyncResult(
            phase=self.phase,
            message=self.message,
            resources=tuple(self._results.values()),
            revision=self.revision,
            dry_run=self.dry_run,
            started_at=self._started,
        )

    # ------------------------------------------------------------------------------------------------
    # Steps.

    def _validate(self) -> None:
        """The dry run of every task: nothing is written when one is refused."""
        self._validated = True
        if self._events:
            self._events.emit(
                SyncStarted(app=self.app, revision=self.revision, dry_run=self.dry_run, tasks=len(self.plan.tasks))
            )
        if self.plan.failed:
            for task in self.plan.tasks:
                if task.error:
                    self._record(_result(task, ResultCode.SYNC_FAILED, task.error), task.phase)
            self._fail("; ".join(self.plan.problems))
            return
        tasks = [task for _, _, group in self._steps for task in group]
        results = self._concurrently(_by_kind(tasks), self._dry_run_task)
        failed = [r for r in results if not r.succeeded]
        if failed or self.dry_run:
            for result in results:
                self._record(result, SyncPhase.SYNC)
        if failed:
            self._fail(f"{_INVALID} ({len(failed)} of {len(results)} failed the dry run)")
        elif self.dry_run:
            self._finish(OperationPhase.SUCCEEDED, _SUCCEEDED)
        else:
            self.message = "dry run passed"

    def _next_step(self) -> None:
        if not self._steps:
            self._complete()
            return
        phase, wave, tasks = self._steps[0]
        self._awaiting_confirmation = any(t.confirm and not t.skipped for t in tasks) and not self._prune_confirmed
        if self._awaiting_confirmation:
            self.message = self.plan.confirmation_message()
            return
        self._steps.pop(0)
        self._start_wave(phase, wave, tasks)
        # The reference prunes first within a step (in reverse kind order here, dependents first), then writes
        # kind by kind.
        prunes = [t for t in reversed(tasks) if _prunes(t)]
        groups = _by_kind(prunes) + _by_kind([t for t in tasks if not _prunes(t)])
        results = self._concurrently(groups, self._run_task)
        for task, result in zip(_flat(groups), results, strict=True):
            self._record(result, task.phase)
        failed = [r for r in results if not r.succeeded]
        if failed:
            message = f"{_FAILED_APPLY} ({len(failed)} of {len(results)} in {phase} wave {wave})"
            self._end_wave(succeeded=False, message=message)
            self._fail(message)
            return
        waiting = tuple(task for task in tasks if task.hook or task.action in (SyncAction.CREATE, SyncAction.UPDATE))
        if not self._steps and not any(task.hook for task in tasks):
            self._end_wave(succeeded=True)
            self._complete()  # the last wave without hooks ends the operation, as the reference does
            return
        self._wait_for(waiting)

    def _next_fail_step(self) -> None:
        if not self._fail_steps:
            self._finish(OperationPhase.FAILED, self._failure or _FAILED_APPLY)
            return
        phase, wave, tasks = self._fail_steps.pop(0)
        self._start_wave(phase, wave, tasks)
        results = self._concurrently([list(tasks)], self._run_task)
        for task, result in zip(tasks, results, strict=True):
            self._record(result, task.phase)
        self._wait_for(tuple(task for task, result in zip(tasks, results, strict=True) if result.succeeded))

    def _wait_for(self, tasks: tuple[SyncTask, ...]) -> None:
        self._waiting = tasks
        self._deadline = self._clock() + self.health_timeout
        self._check_in = _FIRST_CHECK
        if tasks:
            self.message = _waiting_message(tasks)

    def _check_waiting(self) -> None:
        pending: list[SyncTask] = []
        for task in self._waiting:
            verdict = self._health(task)
            if verdict is None or verdict.status in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
                if task.hook:
                    self._record_hook(task, ResultCode.SYNCED, f"{task.key.display} completed")
                continue
            if verdict.status is HealthStatus.DEGRADED:
                if task.hook:
                    self._record_hook(task, ResultCode.SYNC_FAILED, verdict.message or "hook failed")
                self._waiting = ()
                message = f"{_FAILED_HOOK}: {_label(task.key)}: {verdict.message or verdict.status}"
                self._end_wave(succeeded=False, message=message)
                self._fail(message)
                return
            pending.append(task)
        self._waiting = tuple(pending)
        if not pending:
            self._end_wave(succeeded=True)
            # Everything is healthy: go on at once rather than spend a step.
            if self._failure is not None:
                self._next_fail_step()
            else:
                self._next_step()
            return
        if self._clock() >= self._deadline:
            self._waiting = ()
            message = f"timed out {_waiting_message(tuple(pending))} (health_timeout {self.health_timeout:g} s)"
            self._end_wave(succeeded=False, message=message)
            self._fail(message)
            return
        self.message = _waiting_message(tuple(pending))
        self._check_in = min(self._check_in * 2, self.max_check_interval)

    def _health(self, task: SyncTask) -> Health | None:
        live = self.cluster.get(task.key)
        if live is None:
            # A hook that is gone finished (someone deleted it); an applied object that is gone is Missing.
            return None if task.hook else Health(HealthStatus.MISSING, "object is missing")
        return assess(live, self.checks)

    def _complete(self) -> None:
        self._delete_hooks(HookDeletePolicy.HOOK_SUCCEEDED)
        self._finish(OperationPhase.SUCCEEDED, _SUCCEEDED)

    def _fail(self, message: str) -> None:
        """Mark the operation failed; the SyncFail hooks run before it ends (never twice)."""
        if self._failure is not None:
            self._finish(OperationPhase.FAILED, self._failure)
            return
        self._failure = message
        self.message = message
        if self.dry_run or not self._validated or not self._fail_steps:
            self._finish(OperationPhase.FAILED, message)

    def _finish(self, phase: OperationPhase, message: str, *, terminated: bool = False) -> None:
        if not self.dry_run:
            if phase is OperationPhase.FAILED:
                self._delete_hooks(HookDeletePolicy.HOOK_FAILED)
            self._release_hooks(delete_running=terminated)
        self.phase = phase
        self.message = message
        self._end_wave(succeeded=False, message=message)  # terminated while a wave was waited for
        if self._log is not None:
            self._log.info("reconcile.sync.finished", phase=str(phase), message=message)
        if self._events:
            self._events.emit(SyncFinished(app=self.app, result=self.result))

    def _start_wave(self, phase: SyncPhase, wave: int, tasks: tuple[SyncTask, ...]) -> None:
        self._wave = (phase, wave)
        if self._events:
            keys = tuple(task.key for task in tasks)
            self._events.emit(WaveStarted(app=self.app, phase=str(phase), wave=wave, keys=keys))

    def _end_wave(self, *, succeeded: bool, message: str = "") -> None:
        if self._wave is None:
            return
        (phase, wave), self._wave = self._wave, None
        if self._events:
            self._events.emit(
                WaveFinished(app=self.app, phase=str(phase), wave=wave, succeeded=succeeded, message=message)
            )

    # ------------------------------------------------------------------------------------------------
    # Tasks.

    def _concurrently(
        self, groups: Sequence[list[SyncTask]], run: Callable[[SyncTask], ResourceResult]
    ) -> list[ResourceResult]:
        results: list[ResourceResult] = []
        # Only tasks that call the server go to the pool: in a sync of one changed object among 10,000, the
        # others are answered at once rather than through 10,000 futures.
        if self.workers <= 1 or sum(1 for group in groups for task in group if _calls_server(task)) <= 1:
            return [run(task) for group in groups for task in group]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="reconcile-sync") as pool:
            for group in groups:
                calling = [task for task in group if _calls_server(task)]
                answered = dict(zip(map(id, calling), pool.map(carried(run), calling), strict=True))
                results += [answered[id(task)] if id(task) in answered else run(task) for task in group]
        return results

    def _dry_run_task(self, task: SyncTask) -> ResourceResult:
        if task.skip_message or task.error:
            return self._skipped(task, dry_run=True)
        if _prunes(task):
            return _result(task, ResultCode.PRUNED, "pruned (dry run)")
        if task.action is SyncAction.NONE:
            return _result(task, ResultCode.SYNCED, f"{task.key.display} unchanged (dry run)")
        if not (task.skip_dry_run or task.validated) and task.manifest is not None and not task.hook:
            try:
                self._write(task, dry_run=True)
            except ClusterError as exc:
                return _result(task, ResultCode.SYNC_FAILED, exc.message)
        verb = "created" if task.live is None else "configured"
        return _result(task, ResultCode.SYNCED, f"{task.key.display} {verb} (dry run)")

    def _run_task(self, task: SyncTask) -> ResourceResult:
        if task.skip_message or task.error:
            return self._skipped(task, dry_run=False)
        if _prunes(task):
            return self._prune(task)
        if task.action is SyncAction.NONE:
            return _result(task, ResultCode.SYNCED, f"{task.key.display} unchanged")
        try:
            if task.hook:
                stored = self._create_hook(task)
                return _result(task, ResultCode.SYNCED, f"{task.key.display} created", stored)
            stored = self._write(task, dry_run=False)
        except ClusterError as exc:
            if self._log is not None:
                self._log.warning("reconcile.sync.apply_failed", key=str(task.key), error=exc.message)
            return _result(task, ResultCode.SYNC_FAILED, exc.message)
        message = f"{task.key.display} {_verb(task.live, stored)}"
        if self._log is not None:
            self._log.info("reconcile.sync.applied", key=str(task.key), message=message)
        return _result(task, ResultCode.SYNCED, message, stored)

    def _write(self, task: SyncTask, *, dry_run: bool) -> Manifest:
        """Write one object the way its options ask: server-side apply, client-side apply, or replace.

        With ``Force=true``, an object the server refuses to change in place (an immutable field) is deleted and
        written again, as ``kubectl apply --force`` and ``kubectl replace --force`` do; the dry run then checks
        it as a new object, under a generated name since its own is taken.
        """
        manifest = task.manifest
        assert manifest is not None  # noqa: S101 - only prune tasks have none, and they are not written
        try:
            return self._write_once(task, manifest, exists=task.live is not None, dry_run=dry_run)
        except InvalidError:
            if not task.options.force or task.live is None:
                raise
        if dry_run:
            return self.cluster.create(_unnamed(manifest), field_manager=self.field_manager, dry_run=True)
        self._delete_and_wait(task.key, "Foreground")
        return self._write_once(task, manifest, exists=False, dry_run=False)

    def _write_once(self, task: SyncTask, manifest: Manifest, *, exists: bool, dry_run: bool) -> Manifest:
        options = task.options
        if options.replace:
            if exists:
                return self.cluster.replace(manifest, field_manager=self.field_manager, dry_run=dry_run)
            return self.cluster.create(manifest, field_manager=self.field_manager, dry_run=dry_run)
        if not options.server_side_apply:
            if not isinstance(self.cluster, ClientSideApplyCluster):
                raise ClusterError("this cluster offers no client-side apply (ServerSideApply=false)", key=task.key)
            return self.cluster.apply_client_side(manifest, field_manager=self.field_manager, dry_run=dry_run)
        if exists and options.client_side_apply_migration and not dry_run and task.live is not None:
            self._take_over_client_side_fields(task.key, task.live, options.migration_manager)
        return self.cluster.apply(manifest, field_manager=self.field_manager, force=True, dry_run=dry_run)

    def _take_over_client_side_fields(self, key: ResourceKey, live: Manifest, manager: str) -> None:
        """Move what ``kubectl apply`` (client-side) owns to our server-side manager before applying.

        Without this, a field removed from Git stays live for ever: its old manager still owns it, so our apply
        does not remove it (Argo CD's ``ClientSideApplyMigration``). The write names the live resourceVersion, so
        it never overwrites an ownership change it did not see.
        """
        migrated = fields.migrate_client_side_apply(live, from_manager=manager, to_manager=self.field_manager)
        if migrated is None:
            return
        metadata = live.get("metadata") or {}
        patch = {"metadata": {"managedFields": migrated, "resourceVersion": metadata.get("resourceVersion")}}
        self.cluster.patch(key, patch, field_manager=self.field_manager)
        if self._log is not None:
            self._log.info("reconcile.sync.client_side_apply_migrated", key=str(key), manager=manager)

    def _create_hook(self, task: SyncTask) -> Manifest:
        manifest = task.manifest
        assert manifest is not None  # noqa: S101 - hooks always carry their manifest
        existing = self.cluster.get(task.key)
        if existing is not None:
            if HookDeletePolicy.BEFORE_HOOK_CREATION not in task.delete_policies:
                return existing  # the reference keeps an existing hook without that policy
            self._release(task.key, existing)
            self._delete_and_wait(task.key, "Background")
        metadata = dict(manifest.get("metadata") or {})
        metadata["finalizers"] = [*(metadata.get("finalizers") or []), HOOK_FINALIZER]
        stored = self.cluster.create({**manifest, "metadata": metadata}, field_manager=self.field_manager)
        self._hooks.append(task)
        return stored

    def _prune(self, task: SyncTask) -> ResourceResult:
        live = task.live
        if live is None or not tracking.owns(live, self.app, self.plan.adopted):
            # The plan prunes only what the app owns; checking again costs nothing and guards the delete.
            return _result(task, ResultCode.PRUNE_SKIPPED, "ignored (not owned by this application)")
        if task.deleting:
            return _result(task, ResultCode.PRUNED, "pruned")  # already being deleted: not deleted again
        try:
            self.cluster.delete(task.key, propagation=task.options.prune_propagation)
        except NotFoundError:
            pass
        except ClusterError as exc:
            return _result(task, ResultCode.SYNC_FAILED, exc.message)
        if self._log is not None:
            self._log.info("reconcile.sync.pruned", key=str(task.key))
        return _result(task, ResultCode.PRUNED, "pruned")

    def _skipped(self, task: SyncTask, *, dry_run: bool) -> ResourceResult:
        if task.error:
            return _result(task, ResultCode.SYNC_FAILED, task.error)
        status = ResultCode.PRUNE_SKIPPED if _prunes(task) else ResultCode.SYNCED
        return _result(task, status, task.skip_message)

    def _record(self, result: ResourceResult, phase: SyncPhase) -> None:
        self._results[(result.key, phase)] = result
        if self._events:
            self._events.emit(TaskApplied(app=self.app, phase=str(phase), result=result))

    def _record_hook(self, task: SyncTask, status: ResultCode, message: str) -> None:
        self._record(ResourceResult(key=task.key, status=status, action=SyncAction.CREATE, message=message), task.phase)

    # ------------------------------------------------------------------------------------------------
    # Hook clean-up.

    def _delete_hooks(self, policy: HookDeletePolicy) -> None:
        for task in [task for task in self._hooks if policy in task.delete_policies]:
            live = self.cluster.get(task.key)
            if live is not None:
                self._release(task.key, live)
                with contextlib.suppress(NotFoundError):
                    self.cluster.delete(task.key, propagation="Background")
            self._hooks.remove(task)

    def _release_hooks(self, *, delete_running: bool) -> None:
        """Take the operation's finalizer off every hook it created; on termination delete them too."""
        for task in self._hooks:
            live = self.cluster.get(task.key)
            if live is None:
                continue
            self._release(task.key, live)
            if delete_running:
                with contextlib.suppress(NotFoundError):
                    self.cluster.delete(task.key, propagation="Background")
        self._hooks.clear()

    def _release(self, key: ResourceKey, live: Manifest) -> None:
        finalizers = list((live.get("metadata") or {}).get("finalizers") or [])
        if HOOK_FINALIZER in finalizers:
            finalizers.remove(HOOK_FINALIZER)
            with contextlib.suppress(NotFoundError):
                self.cluster.patch(
                    key, {"metadata": {"finalizers": finalizers or None}}, field_manager=self.field_manager
                )

    def _delete_and_wait(self, key: ResourceKey, propagation: Any, timeout: float = 60.0) -> None:
        try:
            self.cluster.delete(key, propagation=propagation)
        except NotFoundError:
            return
        deadline = self._clock() + timeout
        while self.cluster.get(key) is not None:
            if self._clock() >= deadline:
                raise ClusterError(f"{key.display} was not deleted within {timeout:.0f} s", key=key)
            time.sleep(0.2)


def _unnamed(manifest: Manifest) -> Manifest:
    """A copy of ``manifest`` named by ``generateName`` (its name plus a dash) instead of its name."""
    metadata = dict(manifest.get("metadata") or {})
    metadata["generateName"] = f"{metadata.pop('name', '')}-"
    return {**manifest, "metadata": metadata}


def _calls_server(task: SyncTask) -> bool:
    """Whether running ``task`` (or its dry run) writes to or asks the server; skipped and in-sync ones do not."""
    if task.skip_message or task.error:
        return False
    return _prunes(task) or task.hook or task.action is not SyncAction.NONE


def _prunes(task: SyncTask) -> bool:
    return task.action is SyncAction.PRUNE


def _by_kind(tasks: list[SyncTask]) -> list[list[SyncTask]]:
    """Tasks grouped into runs of one kind, keeping their order."""
    return [list(group) for _, group in itertools.groupby(tasks, key=lambda task: task.key.group_kind)]


def _flat(groups: list[list[SyncTask]]) -> list[SyncTask]:
    return [task for group in groups for task in group]


def _label(key: ResourceKey) -> str:
    """``apps/Deployment/web``, ``Service/web``: an object named in a message (core kinds without a group)."""
    return f"{key.group}/{key.kind}/{key.name}" if key.group else f"{key.kind}/{key.name}"


def _waiting_message(tasks: tuple[SyncTask, ...]) -> str:
    """The reference's words: ``waiting for completion of hook X and 2 more hooks``, ``healthy state of`` else."""
    first = tasks[0]
    what, more = ("completion of hook", "hooks") if first.hook else ("healthy state of", "resources")
    message = f"waiting for {what} {_label(first.key)}"
    return f"{message} and {len(tasks) - 1} more {more}" if len(tasks) > 1 else message


def _result(task: SyncTask, status: ResultCode, message: str, stored: Manifest | None = None) -> ResourceResult:
    return ResourceResult(key=task.key, status=status, action=task.action, message=message, stored=stored)


def _verb(before: Manifest | None, after: Manifest) -> str:
    """Kubectl's word for what a write did: created, configured or unchanged."""
    if before is None:
        return "created"
    version = (before.get("metadata") or {}).get("resourceVersion")
    return "unchanged" if version == (after.get("metadata") or {}).get("resourceVersion") else "configured"
