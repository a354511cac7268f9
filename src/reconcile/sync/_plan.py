"""The sync plan: what a sync would do, in which phase and wave, and why, worked out without touching a cluster.

:func:`build_plan` turns the rendered targets, their comparison with live state and the sync options into an ordered
tuple of :class:`SyncTask` values, with the reference engine's rules: tasks sorted by (phase, wave, kind order,
name); a Namespace moved ahead of the first object in it and a CRD ahead of its first custom resource; prune waves
mirrored (what was created last is pruned first) and ``PruneLast`` prunes after the last Sync wave. Only objects
this app tracks are pruned; hooks are never diffed nor pruned as leftovers. An executor runs
:meth:`SyncPlan.steps` one after the other; people read ``str(plan)`` before they sync.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Sequence

import attrs

from reconcile.apiserver import CRD, NAMESPACE, crd_kind, fields
from reconcile.argocd import tracking
from reconcile.argocd.hooks import (
    PHASE_ORDER,
    HookDeletePolicy,
    SyncPhase,
    delete_policies,
    hook_name,
    hook_phases,
    sync_wave,
)
from reconcile.diff import DiffResult, ResourceDiff
from reconcile.errors import ConfigurationError
from reconcile.jsonvalues import deep_copy
from reconcile.model import GroupKind, Manifest, Resource, ResourceKey, SyncAction, SyncStatus
from reconcile.sync._options import ObjectOptions, Permission, SyncOptions
from reconcile.sync._order import kind_rank

REQUIRES_PRUNING = "ignored (requires pruning)"
"""The reference's message for a leftover when the sync does not prune."""
NO_PRUNE = "ignored (no prune)"
"""The reference's message for a leftover carrying ``Prune=false``."""


@attrs.frozen(kw_only=True)
class SyncTask:
    """One thing a sync does to one object.

    Attributes:
        key: The object (a hook's key carries the name it is created with).
        manifest: The desired object, ready to apply; ``None`` for a prune.
        live: The object as the comparison found it in the cluster, or ``None`` (always ``None`` for hooks).
        phase: The phase the task runs in.
        wave: The wave within the phase (already mirrored or moved for prunes, Namespaces and CRDs).
        action: Create, update, prune, or nothing (an in-sync object under ``ApplyOutOfSyncOnly``).
        hook: Whether the object is a hook.
        delete_policies: A hook's delete policies (empty for other objects).
        options: The sync options in force for this object.
        skip_dry_run: Apply without a dry-run first: the object's kind or namespace is created by this very sync.
        validated: The comparison already had the server dry-run this very request (the same object, field
            manager and live resourceVersion, a server-side apply): the sync's dry run does not send it again.
        reason: Why the task exists: ``missing``, ``out of sync``, ``in sync``, ``requires pruning``, ``hook``...
        skip_message: When set, the task is not carried out and is reported with this message (the reference's
            ``ignored (requires pruning)``, ``ignored (no prune)``).
        confirm: A prune that waits for an explicit confirmation (``Prune=confirm``).
        deleting: The live object is being deleted already: the prune succeeds without a second delete.
        warning: Something people should know (a shared resource).
        error: Why the task fails before it runs (a shared resource under ``FailOnSharedResource=true``).
    """

    key: ResourceKey
    manifest: Manifest | None = attrs.field(eq=False, repr=False)
    live: Manifest | None = attrs.field(eq=False, repr=False)
    phase: SyncPhase
    wave: int
    action: SyncAction
    hook: bool = False
    delete_policies: frozenset[HookDeletePolicy] = frozenset()
    options: ObjectOptions = attrs.field(factory=ObjectOptions)
    skip_dry_run: bool = False
    validated: bool = False
    reason: str
    skip_message: str = ""
    confirm: bool = False
    deleting: bool = False
    warning: str = ""
    error: str = ""

    @property
    def prune(self) -> bool:
        """Whether the task deletes a leftover."""
        return self.action is SyncAction.PRUNE

    @property
    def skipped(self) -> bool:
        """Whether the task is reported without being carried out."""
        return bool(self.skip_message)

    def notes(self) -> str:
        """Why the task exists, then any skip, confirmation, warning or error, joined by ``; ``."""
        notes = [self.reason]
        notes += [self.skip_message] if self.skip_message else []
        notes += ["waits for prune confirmation"] if self.confirm and not self.skipped else []
        notes += ["already being deleted"] if self.deleting else []
        notes += ["no dry-run"] if self.skip_dry_run else []
        notes += ["dry-run passed in the comparison"] if self.validated and not self.skip_dry_run else []
        notes += [f"warning: {self.warning}"] if self.warning else []
        notes += [f"error: {self.error}"] if self.error else []
        return "; ".join(notes)

    def describe(self) -> str:
        """One line for people: what, which object, and :meth:`notes`."""
        where = f"{self.key.namespace}/" if self.key.namespace else ""
        what = "skip" if self.skipped else str(self.action)
        return f"{what:<7} {where}{self.key.display}  ({self.notes()})"


Step = tuple[SyncPhase, int, tuple[SyncTask, ...]]
"""One group of tasks an executor runs together: phase, wave, tasks."""


@attrs.frozen
class SyncPlan:
    """An ordered sync plan.

    Attributes:
        tasks: Every task, sorted by (phase, wave, kind order, name), with Namespaces and CRDs moved ahead of the
            first object that needs them.
        problems: Why the sync must fail before anything runs (each also on its task's ``error``).
        warnings: What people should know before they sync (shared resources, an empty render not pruned).
        app: The application the plan is for.
        adopted: The Argo CD application the app takes over, whose tracked objects it owns too.
    """

    tasks: tuple[SyncTask, ...]
    problems: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    warnings: tuple[str, ...] = attrs.field(default=(), kw_only=True)
    app: str = attrs.field(default="", kw_only=True)
    adopted: tracking.ArgoCDTracking | None = attrs.field(default=None, kw_only=True)

    @property
    def failed(self) -> bool:
        """Whether the plan cannot run (see :attr:`problems`)."""
        return bool(self.problems)

    def steps(self) -> tuple[Step, ...]:
        """The groups of tasks an executor runs one after the other, as (phase, wave, tasks).

        SyncFail steps come last; an executor runs them only when the operation fails. Within a step, the
        reference runs the prunes first, then the other tasks kind by kind.
        """
        return tuple(
            (phase, wave, tuple(group))
            for (phase, wave), group in itertools.groupby(self.tasks, key=lambda t: (t.phase, t.wave))
        )

    @property
    def awaiting_confirmation(self) -> tuple[SyncTask, ...]:
        """Prunes that wait for an explicit confirmation (``Prune=confirm``)."""
        return tuple(t for t in self.tasks if t.confirm and not t.skipped)

    def confirmation_message(self) -> str:
        """The reference's operation message while prunes wait for confirmation (empty when none do)."""
        waiting = self.awaiting_confirmation
        if not waiting:
            return ""
        first = waiting[0].live or {}
        name = f"{first.get('apiVersion', '')}/{waiting[0].key.kind}/{waiting[0].key.name}"
        more = f" and {len(waiting) - 1} more resources" if len(waiting) > 1 else ""
        return f"Waiting for pruning confirmation of {name}{more}"

    def summary(self) -> str:
        """One line counting what the plan creates, updates, prunes and skips."""
        counts = dict.fromkeys(("create", "update", "prune", "unchanged", "skipped"), 0)
        for task in self.tasks:
            word = "skipped" if task.skipped else "unchanged" if task.action is SyncAction.NONE else str(task.action)
            counts[word] += 1
        parts = [
            f"{n} to {word}" if word in ("create", "update", "prune") else f"{n} {word}" for word, n in counts.items()
        ]
        head = f"sync plan for {self.app}" if self.app else "sync plan"
        status = " (cannot run)" if self.failed else ""
        return f"{head}{status}: {', '.join(parts)}"

    def __str__(self) -> str:
        lines = [self.summary()]
        for phase, wave, tasks in self.steps():
            when = " (only when the sync fails)" if phase is SyncPhase.SYNC_FAIL else ""
            lines.append(f"{phase} wave {wave}{when}:")
            lines += [f"  {task.describe()}" for task in tasks]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{phase}</td><td>{wave}</td><td>{_action_html(t)}</td>"
            f"<td>{html.escape(str(t.key))}</td><td>{html.escape(t.notes())}</td></tr>"
            for phase, wave, tasks in self.steps()
            for t in tasks
        )
        notes = "".join(f"<p>problem: {html.escape(p)}</p>" for p in self.problems)
        notes += "".join(f"<p>warning: {html.escape(w)}</p>" for w in self.warnings)
        return (
            f"<p><b>{html.escape(self.summary())}</b></p>"
            f"<table><tr><th>phase</th><th>wave</th><th>action</th><th>object</th><th>why</th></tr>{rows}</table>"
            f"{notes}"
        )


_ACTION_ICONS = {SyncAction.CREATE: "+", SyncAction.UPDATE: "\u2191", SyncAction.PRUNE: "\u2212", SyncAction.NONE: ""}


def _action_html(task: SyncTask) -> str:
    """A task's action in Argo CD's colours: out-of-sync yellow for a change, green for none, grey when skipped."""
    if task.skipped:
        return f"<span style='color:{SyncStatus.UNKNOWN.color}'>skip</span>"
    status = SyncStatus.SYNCED if task.action is SyncAction.NONE else SyncStatus.OUT_OF_SYNC
    return f"<span style='color:{status.color}'>{_ACTION_ICONS[task.action]} {task.action}</span>"


def build_plan(
    *,
    app: str,
    targets: Sequence[Resource],
    diff: DiffResult,
    hooks: Sequence[Resource] = (),
    options: SyncOptions = SyncOptions(),  # noqa: B008 - frozen, so one shared default is safe
    prune: bool = False,
    operation_id: str = "",
    served: Callable[[GroupKind], bool | None] = lambda gk: True,
    allow_empty: bool = False,
    create_namespace: str | Manifest | None = None,
    existing_namespace: Manifest | None = None,
    adopted: tracking.ArgoCDTracking | None = None,
    field_manager: str | None = None,
) -> SyncPlan:
    """Work out what a sync would do, without touching a cluster.

    Args:
        app: The application; only live objects carrying its tracking annotation are pruned.
        targets: The desired objects, ready to apply (namespaced and tracked by the caller). Hooks among them
            are planned as hooks; skipped hooks (``hook: Skip``) are left out.
        diff: The comparison of the targets with live state; its ``requires_pruning`` entries are the leftovers.
        hooks: Hook objects (see :func:`~reconcile.argocd.hooks.split_hooks`); each runs once per phase it names.
        options: The app's sync options; each object's annotation overrides them.
        prune: Whether leftovers are deleted; otherwise each is reported ``ignored (requires pruning)``.
        operation_id: Names unnamed hooks deterministically, so a resumed operation finds its hooks.
        served: Whether the cluster serves a kind (``None``: not served), as ``Cluster.is_namespaced`` answers.
            A custom resource whose CRD is in this plan and not served yet skips its dry-run, as does an object
            whose kind is not served when ``SkipDryRunOnMissingResource=true``.
        allow_empty: Let an empty render prune everything the app owns; without it, an empty render prunes
            nothing (a warning says so).
        create_namespace: A namespace to create first (``CreateNamespace=true``, when the caller found it
            missing): its name, or the Namespace manifest with managed labels and annotations. Left out when
            the targets hold that Namespace.
        existing_namespace: The live copy of ``create_namespace`` when it exists but lacks managed labels or
            annotations: the task then adds them (an update) instead of creating the namespace.
        adopted: The Argo CD application ``app`` takes over: objects Argo CD tracked for it are pruned too.
        field_manager: The manager the sync applies as: a server-side apply the comparison already dry-ran as
            this manager, on the same live object, is marked ``validated``.

    Returns:
        The plan. Per-object problems (a shared resource under ``FailOnSharedResource``) are in the plan,
        not raised.

    Raises:
        ConfigurationError: A desired object's or hook's wave is not an integer, or a hook has no name.
    """
    normal = [r for r in (*targets, *hooks) if hook_phases(r.manifest) is None]
    hook_objects = [r for r in (*targets, *hooks) if hook_phases(r.manifest)]
    compared = {d.key: d for d in diff.resources}
    target_keys = {r.key for r in normal}
    new_namespaces = {r.key.name for r in normal if r.key.group_kind == NAMESPACE and _live(compared, r.key) is None}
    tasks: list[SyncTask] = []
    namespace = _namespace_manifest(create_namespace)
    if namespace is not None and ResourceKey.from_manifest(namespace) not in target_keys:
        # Created untracked, as the reference does: the app never prunes its own destination.
        key = ResourceKey.from_manifest(namespace)
        tasks.append(_namespace_task(key, namespace, options, existing_namespace))
        if existing_namespace is None:
            new_namespaces.add(key.name)
    new_kinds = {crd_kind(r.manifest) for r in (*normal, *hook_objects) if r.key.group_kind == CRD}

    def skip_dry_run(key: ResourceKey, object_options: ObjectOptions) -> bool:
        # The server cannot dry-run an object whose namespace or kind this very sync creates first.
        if key.namespace and key.namespace in new_namespaces:
            return True
        unserved = served(key.group_kind) is None
        return unserved and (key.group_kind in new_kinds or object_options.skip_dry_run_on_missing_resource)

    for resource in normal:
        tasks.append(
            _apply_task(app, resource, compared, options, skip_dry_run, adopted=adopted, field_manager=field_manager)
        )
    for resource in hook_objects:
        tasks += _hook_tasks(resource, options, operation_id, skip_dry_run)
    warnings: list[str] = []
    if prune and not normal and not allow_empty:
        warnings.append("the render is empty: nothing is pruned unless allow_empty is set")
    else:
        leftovers = [d for d in diff.resources if d.requires_pruning and d.key not in target_keys]
        tasks += [
            _prune_task(d.key, d.live, options, prune=prune) for d in leftovers if _prunable(d.live, app, adopted)
        ]
    tasks = _ordered(_prune_last(_mirror_prune_waves(tasks), options))
    warnings += [f"{t.key}: {t.warning}" for t in tasks if t.warning]
    problems = tuple(f"{t.key}: {t.error}" for t in tasks if t.error)
    return SyncPlan(tuple(tasks), problems=problems, warnings=tuple(warnings), app=app, adopted=adopted)


def _live(compared: dict[ResourceKey, ResourceDiff], key: ResourceKey) -> Manifest | None:
    found = compared.get(key)
    return found.live if found is not None else None


def _namespace_manifest(create_namespace: str | Manifest | None) -> Manifest | None:
    if create_namespace is None or create_namespace == "":
        return None
    if isinstance(create_namespace, str):
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": create_namespace}}
    return deep_copy(create_namespace)


def _namespace_task(key: ResourceKey, namespace: Manifest, options: SyncOptions, live: Manifest | None) -> SyncTask:
    return SyncTask(
        key=key,
        manifest=namespace,
        live=live,
        phase=SyncPhase.PRE_SYNC,
        wave=0,
        action=SyncAction.CREATE if live is None else SyncAction.UPDATE,
        options=options.for_object(namespace),
        reason="CreateNamespace" if live is None else "managed namespace metadata",
    )


def _other_owner(live: Manifest | None, app: str, adopted: tracking.ArgoCDTracking | None) -> str | None:
    """Another application that tracks ``live``: one of ours by our annotation, or an Argo CD one by its tracking."""
    if live is None or tracking.owns(live, app, adopted):
        return None
    ours = tracking.owner(live)
    if ours is not None:
        return ours
    argo = adopted.owner(live) if adopted is not None else None
    return f"{argo} (Argo CD)" if argo is not None else None


def _takes_over(live: Manifest, options: ObjectOptions) -> bool:
    """Whether a server-side apply of ``live`` would first take over a client-side manager's fields."""
    if not (options.server_side_apply and options.client_side_apply_migration) or options.replace:
        return False
    return not fields.is_empty(fields.owned_fields(live, options.migration_manager, "Update"))


def _apply_task(
    app: str,
    resource: Resource,
    compared: dict[ResourceKey, ResourceDiff],
    options: SyncOptions,
    skip_dry_run: Callable[[ResourceKey, ObjectOptions], bool],
    *,
    adopted: tracking.ArgoCDTracking | None = None,
    field_manager: str | None = None,
) -> SyncTask:
    found = compared.get(resource.key)
    live = found.live if found is not None else None
    modified = found.modified if found is not None else True
    object_options = options.for_object(resource.manifest)
    if live is None:
        action, reason = SyncAction.CREATE, "missing"
    elif modified:
        action, reason = SyncAction.UPDATE, "out of sync"
    elif _takes_over(live, object_options):
        # In sync to a comparison, but fields the client-side manager owns would stay live even once Git drops them:
        # applying takes them over (ClientSideApplyMigration).
        action, reason = SyncAction.UPDATE, f"fields owned by {object_options.migration_manager} to take over"
    else:
        action = SyncAction.NONE if object_options.apply_out_of_sync_only else SyncAction.UPDATE
        reason = "in sync"
    other = _other_owner(live, app, adopted)
    warning = error = ""
    if other is not None and other != app:
        shared = f"shared resource: {resource.key.display} is part of application {other}"
        error = shared if options.fail_on_shared_resource else ""
        warning = "" if error else shared
    return SyncTask(
        key=resource.key,
        manifest=resource.manifest,
        live=live,
        phase=SyncPhase.SYNC,
        wave=sync_wave(resource.manifest),
        action=action,
        options=object_options,
        skip_dry_run=skip_dry_run(resource.key, object_options),
        validated=action is SyncAction.UPDATE and _validated(found, object_options, field_manager),
        reason=reason,
        warning=warning,
        error=error,
    )


def _validated(found: ResourceDiff | None, options: ObjectOptions, field_manager: str | None) -> bool:
    """Whether the comparison's dry run was the very request the sync's dry run would send."""
    if found is None or found.dry_run_by is None or found.dry_run_by != field_manager:
        return False
    return options.server_side_apply and not options.replace


def _hook_tasks(
    resource: Resource,
    options: SyncOptions,
    operation_id: str,
    skip_dry_run: Callable[[ResourceKey, ObjectOptions], bool],
) -> list[SyncTask]:
    tasks = []
    object_options = options.for_object(resource.manifest)
    for phase in hook_phases(resource.manifest) or ():
        manifest = tracking.named(resource.manifest, hook_name(resource.manifest, operation_id, phase))
        key = ResourceKey.from_manifest(manifest)
        tasks.append(
            SyncTask(
                key=key,
                manifest=manifest,
                live=None,
                phase=phase,
                wave=sync_wave(resource.manifest),
                action=SyncAction.CREATE,
                hook=True,
                delete_policies=delete_policies(resource.manifest),
                options=object_options,
                skip_dry_run=skip_dry_run(key, object_options),
                reason="hook",
            )
        )
    return tasks


def _prunable(live: Manifest | None, app: str, adopted: tracking.ArgoCDTracking | None) -> bool:
    # Hooks are the operation's, not the app's state; an object another app (or nobody) tracks is not ours.
    return live is not None and hook_phases(live) is None and tracking.owns(live, app, adopted)


def _prune_task(key: ResourceKey, live: Manifest | None, options: SyncOptions, *, prune: bool) -> SyncTask:
    object_options = options.for_object(live)
    if not prune:
        skip_message = REQUIRES_PRUNING
    elif object_options.prune is Permission.DENY:
        skip_message = NO_PRUNE
    else:
        skip_message = ""
    try:
        wave = sync_wave(live or {})
    except ConfigurationError:
        # A live object's annotation is history, not input: a bad one must not block removing the object.
        wave = 0
    metadata = (live or {}).get("metadata") or {}
    return SyncTask(
        key=key,
        manifest=None,
        live=live,
        phase=SyncPhase.SYNC,
        wave=wave,
        action=SyncAction.PRUNE,
        options=object_options,
        reason="requires pruning",
        skip_message=skip_message,
        confirm=object_options.prune is Permission.CONFIRM,
        deleting=bool(metadata.get("deletionTimestamp")),
    )


def _mirror_prune_waves(tasks: list[SyncTask]) -> list[SyncTask]:
    """Prunes in reverse wave order: the lowest prune wave swaps with the highest, and so on inwards."""
    waves = sorted({t.wave for t in tasks if t.prune})
    mirrored = dict(zip(waves, reversed(waves), strict=True))
    return [attrs.evolve(t, wave=mirrored[t.wave]) if t.prune else t for t in tasks]


def _prune_last(tasks: list[SyncTask], options: SyncOptions) -> list[SyncTask]:
    """``PruneLast`` prunes move one wave past the last Sync-phase wave of the other tasks."""
    last = max([0] + [t.wave for t in tasks if t.phase is SyncPhase.SYNC and not t.prune]) + 1
    return [attrs.evolve(t, wave=last) if t.prune and t.options.prune_last else t for t in tasks]


def _sort_key(task: SyncTask) -> tuple[int, int, int, str, str, str, str]:
    key = task.key
    return (PHASE_ORDER[task.phase], task.wave, kind_rank(key.kind), key.name, key.kind, key.group, key.namespace)


def _ordered(tasks: list[SyncTask]) -> list[SyncTask]:
    ordered = sorted(tasks, key=_sort_key)
    _hoist(ordered, _namespace_of_task, _namespace_used)
    _hoist(ordered, _kind_of_crd, lambda t: t.key.group_kind)
    return ordered


def _namespace_of_task(task: SyncTask) -> object | None:
    return task.key.name if task.key.group_kind == NAMESPACE else None


def _namespace_used(task: SyncTask) -> object | None:
    return task.key.namespace or None


def _kind_of_crd(task: SyncTask) -> object | None:
    return crd_kind(task.manifest) if task.manifest is not None and task.key.group_kind == CRD else None


def _hoist(
    tasks: list[SyncTask],
    provides: Callable[[SyncTask], object | None],
    needs: Callable[[SyncTask], object | None],
) -> None:
    """Move each task that provides something (a Namespace, a CRD's kind) ahead of the first task needing it.

    The moved task takes that task's phase and wave, so it runs in the same step, before it. Prunes neither
    provide nor need anything: deleting needs no namespace to be created first.
    """
    first: dict[object, int] = {}
    for index, task in enumerate(list(tasks)):
        if task.manifest is None:
            continue
        provided = provides(task)
        if provided is None:
            needed = needs(task)
            if needed is not None:
                first.setdefault(needed, index)
            continue
        target = first.get(provided)
        if target is None:
            continue
        anchor = tasks[target]
        tasks.pop(index)
        tasks.insert(target, attrs.evolve(task, phase=anchor.phase, wave=anchor.wave))
        for item, position in first.items():
            if position >= target:
                first[item] = position + 1
