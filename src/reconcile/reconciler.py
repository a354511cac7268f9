"""One application: fetch, render, compare, and sync when the policy says so; one pass per call."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import structlog

from reconcile.apiserver import CRD, crd_kind, fill_list_keys
from reconcile.argocd import tracking
from reconcile.argocd.annotations import DEFAULT_CLIENT_SIDE_APPLY_MANAGER, RESPECT_IGNORE_DIFFERENCES, has_option
from reconcile.argocd.hooks import is_hook, split_hooks
from reconcile.deadline import bounded, remaining
from reconcile.diff import (
    ArgoDiffer,
    Differ,
    DiffResult,
    DiffSettings,
    IgnoreRule,
    IncrementalDiffer,
    ResourceDiff,
    as_rules,
    keep_live_values,
)
from reconcile.errors import (
    ActionError,
    ClusterError,
    ConfigurationError,
    NotFoundError,
    ReconcileError,
    SyncError,
    UnknownKindError,
)
from reconcile.events import DriftDetected, EventEmitter, HealthChanged, OperationFailed, PassFinished
from reconcile.health import ResourceAction, app_health, assess
from reconcile.manifests import check_unique
from reconcile.model import (
    GroupKind,
    Health,
    HealthStatus,
    Manifest,
    OperationPhase,
    PropagationPolicy,
    Resource,
    ResourceKey,
    ResultCode,
    Revision,
    Snapshot,
    SyncAction,
    SyncStatus,
)
from reconcile.protocols import (
    Cluster,
    ClusterAwareRenderer,
    EventSink,
    HealthChecks,
    Renderer,
    ResourceActions,
    SelectingCluster,
    Source,
    VersionedCluster,
)
from reconcile.results import ReconcileResult, ResourceStatus
from reconcile.sync import (
    ActionOutcome,
    ArgoSyncer,
    PlanningSyncer,
    ResourceResult,
    RetryPolicy,
    Syncer,
    SyncOperation,
    SyncOptions,
    SyncPlan,
    SyncResult,
    prune_order,
    run_action,
)
from reconcile.tree import ResourceTree, TreeBuilder

__all__ = [
    "DEFAULT_PASS_TIMEOUT",
    "ReconcileResult",
    "Reconciler",
    "ResourceStatus",
    "SyncPolicy",
]

_SHOWN_PATHS = 3  # paths named in an out-of-sync message
_MAX_NAMESPACE_LISTS = 8  # past this many namespaces, a kind is listed whole rather than namespace by namespace
# Past this many changed objects in one kind and namespace, a later pass LISTs them instead of one GET each.
_MAX_GETS_PER_PLACE = 16


def _namespace_metadata(value: Mapping[str, Mapping[str, str]] | None) -> dict[str, dict[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"labels", "annotations"}:
        raise ConfigurationError(f"managed_namespace_metadata holds 'labels' and 'annotations', not {value!r}")
    out: dict[str, dict[str, str]] = {}
    for part, entries in value.items():
        if not isinstance(entries, Mapping) or not all(isinstance(v, str) for v in entries.values()):
            raise ConfigurationError(f"managed_namespace_metadata.{part} maps names to strings, not {entries!r}")
        out[part] = {str(k): v for k, v in entries.items()}
    return out


@attrs.frozen(kw_only=True)
class SyncPolicy:
    """When and how a pass syncs, as Argo CD's ``syncPolicy``.

    Attributes:
        automated: Sync whenever live state is out of sync with a new revision.
        prune: Delete objects this app applied before and that left Git (otherwise they are only reported).
        self_heal: Also sync when live state drifts while the revision is unchanged. As Argo CD's self-heal, that
            sync applies (and prunes) only the objects found out of sync, and runs no hooks.
        allow_empty: Allow an automated sync to prune everything when the render comes back empty.
        sync_options: Argo CD's ``syncOptions`` strings (``PruneLast=true``, ``CreateNamespace=true``,
            ``RespectIgnoreDifferences=true``...), checked when the policy is made; :attr:`options` is their
            value, given to the default syncer.
        retry: How a failed sync operation is tried again (Argo CD's ``retry``); ``None``: it is not.
        managed_namespace_metadata: With ``create_namespace``, the ``labels`` and ``annotations`` the destination
            namespace carries (Argo CD's ``managedNamespaceMetadata``): set when the sync creates it, and added
            to it when it exists without them.
        client_side_apply_migration_manager: The field manager whose fields a server-side apply takes over
            (``ClientSideApplyMigration``, on unless ``ClientSideApplyMigration=false``): the Application's
            ``argocd.argoproj.io/client-side-apply-migration-manager``, default ``kubectl-client-side-apply``.
    """

    automated: bool = False
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False
    sync_options: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    retry: RetryPolicy | None = None
    managed_namespace_metadata: dict[str, dict[str, str]] | None = attrs.field(
        default=None, converter=_namespace_metadata
    )
    client_side_apply_migration_manager: str = DEFAULT_CLIENT_SIDE_APPLY_MANAGER

    # The strings' value, parsed once when the policy is made (so unknown strings are refused at once).
    _options: SyncOptions = attrs.field(init=False, eq=False, repr=False)

    @_options.default
    def _parse_options(self) -> SyncOptions:
        parsed = SyncOptions.parse(("ApplyOutOfSyncOnly=true", *self.sync_options))
        return attrs.evolve(parsed, migration_manager=self.client_side_apply_migration_manager)

    @property
    def options(self) -> SyncOptions:
        """The sync options, with ``ApplyOutOfSyncOnly=true`` unless the strings say otherwise."""
        return self._options

    @property
    def create_namespace(self) -> bool:
        """``CreateNamespace=true``: create the destination namespace when it does not exist."""
        return self._options.create_namespace

    @property
    def respect_ignore_differences(self) -> bool:
        """``RespectIgnoreDifferences=true``: at sync, ignored fields keep their live values (also per object)."""
        return self._options.respect_ignore_differences


def _check_arguments(*, name: Any, source: Any, renderer: Any, cluster: Any, namespace: Any) -> None:
    """The Reconciler's parts, checked when it is built rather than failing on the first pass."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError.argument("Reconciler(name)", "a non-empty string", name)
    if ":" in name or "/" in name:
        raise ConfigurationError(f"application name {name!r} must be non-empty and contain no ':' or '/'")
    for argument, value, protocol, expected in (
        ("source", source, Source, "a Source (an object with fetch())"),
        ("renderer", renderer, Renderer, "a Renderer (an object with render(snapshot))"),
        ("cluster", cluster, Cluster, "a Cluster (MemoryCluster, KubernetesCluster or the protocol's methods)"),
    ):
        if not isinstance(value, protocol):
            raise ConfigurationError.argument(f"Reconciler({argument})", expected, value)
    if not isinstance(namespace, str) or not namespace:
        # An empty namespace would make keys like ConfigMap//a that never match the live objects.
        raise ConfigurationError.argument("Reconciler(namespace)", "a namespace's name", namespace)


def _described(snapshot: Snapshot) -> str:
    """The application folder, as a person looks for it: its path in the source, and the revision."""
    where = "the source's root folder" if snapshot.path in ("", ".") else snapshot.path
    return f"{where} at {snapshot.revision}"


@attrs.frozen
class _Comparison:
    revision: Revision
    targets: tuple[Resource, ...]
    diff: DiffResult
    live: Mapping[ResourceKey, Manifest]  # as read, unmasked: what a sync may copy values from
    hooks: tuple[Resource, ...] = ()  # run by a sync, never compared


DEFAULT_PASS_TIMEOUT = 300.0
"""Seconds one pass may take by default: a wave's health wait (``health_timeout``) fits in it once."""


class Reconciler:
    """One application: a source, a renderer and a cluster, wired together.

    Args:
        name: The application name; it goes into the tracking annotation, so keep it stable.
        source: Where the desired state lives.
        renderer: How its files become objects.
        cluster: Where the objects live.
        namespace: The destination namespace for namespaced objects that name none.
        policy: When to sync on :meth:`reconcile`.
        ignore_differences: Differences to ignore, as :class:`~reconcile.diff.IgnoreRule` objects or Argo CD's
            ``ignoreDifferences`` entries; given to the default differ (pass them to your own differ instead).
        diff_settings: Comparison settings shared by all applications (system-wide ignore rules, known-type
            fields, sensitive annotations: :class:`~reconcile.diff.DiffSettings`); given to the default differ.
        differ: How to compare (default :class:`~reconcile.diff.ArgoDiffer`).
        server_side_diff: Whether the default differ predicts each object with a server-side dry-run apply
            (Argo CD's ``ServerSideDiff``); off, it predicts locally (the in-memory cluster needs no server).
        syncer: How to sync (default :class:`~reconcile.sync.ArgoSyncer` with the policy's sync options and
            ``health_checks``); :meth:`plan` and :meth:`start_sync` need a :class:`~reconcile.sync.ArgoSyncer`.
        health_checks: Custom health checks for the waits between sync waves, tried before the built-in ones
            (an :class:`~reconcile.health.ArgoCDCatalogue` is one).
        actions: The resource actions the app's objects offer (Argo CD's ``actions/`` scripts; an
            :class:`~reconcile.health.ArgoCDCatalogue` is one), for :meth:`actions` and :meth:`run_action`.
        adopt: Take over an application from Argo CD (:class:`~reconcile.argocd.tracking.ArgoCDTracking`: its
            name and tracking method): the objects Argo CD tracked for it are this app's (pruned when they leave
            Git; tracked by our annotation from their next apply). Objects Argo CD tracks for any other application
            never are.
        logger: A structlog-style logger; default ``structlog.get_logger("reconcile")``.
        pass_timeout: Seconds one :meth:`reconcile` or :meth:`sync` call may take, all stages and retries
            included (``None``: no bound). Past it, requests to the cluster are no longer sent or retried and a
            running sync is terminated, its result saying what it was waiting for; the call returns. A host that
            wants to keep waiting drives :meth:`start_sync` itself.
        on_event: A callback (:class:`~reconcile.protocols.EventSink`) for :mod:`reconcile.events`: drift detected,
            health changed, operation failed and pass finished from each pass, and the sync's own events (started,
            waves, tasks, finished) from the default syncer (give a syncer you build its own ``on_event``). What
            it raises is logged and never breaks a pass.
        resource_tree: Put the resource tree on every pass's result (:attr:`ReconcileResult.tree`): one more
            LIST per owned kind in play and per namespace for Events, none with a live cache.
    """

    def __init__(
        self,
        *,
        name: str,
        source: Source,
        renderer: Renderer,
        cluster: Cluster,
        namespace: str = "default",
        policy: SyncPolicy | None = None,
        ignore_differences: Iterable[IgnoreRule | Mapping[str, Any]] = (),
        diff_settings: DiffSettings | None = None,
        differ: Differ | None = None,
        server_side_diff: bool = True,
        syncer: Syncer | None = None,
        health_checks: HealthChecks | Sequence[HealthChecks] | None = None,
        logger: Any = None,
        pass_timeout: float | None = DEFAULT_PASS_TIMEOUT,
        actions: ResourceActions | None = None,
        adopt: tracking.ArgoCDTracking | None = None,
        on_event: EventSink | None = None,
        resource_tree: bool = False,
    ) -> None:
        _check_arguments(name=name, source=source, renderer=renderer, cluster=cluster, namespace=namespace)
        self.name = name
        self.source = source
        self.renderer = renderer
        self.cluster = cluster
        self.namespace = namespace
        self.policy = policy or SyncPolicy()
        self.ignore_differences = as_rules(ignore_differences)
        if differ is not None and (self.ignore_differences or diff_settings is not None or not server_side_diff):
            raise ConfigurationError(
                "give ignore_differences, diff_settings and server_side_diff to the differ you pass, "
                "or let the Reconciler build it"
            )
        self.diff_settings = diff_settings or DiffSettings()
        # The live objects are the Reconciler's own copies, kept read-only between passes: the diffs share them.
        self.differ: Differ = differ or ArgoDiffer(
            ignore_differences=self.ignore_differences,
            settings=self.diff_settings,
            server_side=server_side_diff,
            share_live=True,
        )
        if syncer is not None and (self.policy.sync_options or health_checks is not None or adopt is not None):
            raise ConfigurationError(
                "give sync options, health checks and adopt to the syncer you pass, or let the Reconciler build it"
            )
        self.adopt = adopt
        self.health_checks = health_checks
        self.resource_actions = actions
        self._log = (logger or structlog.get_logger("reconcile")).bind(app=name)
        if on_event is not None and not callable(on_event):
            raise ConfigurationError.argument("Reconciler(on_event)", "a callable taking one event", on_event)
        self._events = EventEmitter(on_event, self._log)
        self.resource_tree = resource_tree
        self.syncer: Syncer = syncer or ArgoSyncer(
            options=self.policy.options, checks=health_checks, logger=self._log, adopted=adopt, on_event=on_event
        )
        if pass_timeout is not None and not pass_timeout > 0:
            raise ConfigurationError(f"pass_timeout must be a positive number of seconds or None, got {pass_timeout!r}")
        self.pass_timeout = pass_timeout
        # The last revision an automated sync was attempted for, and whether it succeeded: the reference
        # re-syncs the same revision only to self-heal, and never retries a failed revision on its own.
        self._last_sync: tuple[str, bool] | None = None
        # A revision renders to the same objects every time: render each revision once, and make its targets once
        # per answer of the cluster about which of their kinds are namespaced (stable objects let the differ
        # recognise an unchanged comparison).
        # (revision, the kinds' scopes, the targets made from its render, how many objects it rendered)
        self._targets_made: tuple[str, tuple[Any, ...], tuple[Resource, ...], int] | None = None
        # Verdicts by object and resourceVersion, as Argo CD's cache keeps them: an unchanged object is not assessed
        # again (kept for the objects of the last pass only).
        self._verdicts: dict[tuple[ResourceKey, str], Health | None] = {}
        # Kinds the app targets or owns, from the last pass; None until a first pass has listed every kind.
        self._kinds_in_play: set[GroupKind] | None = None
        self._namespaces_in_play: set[str] = set()  # the namespaces of the objects the app owned last pass
        # Every object the last pass read: its resourceVersion, and the object when it was the app's.
        self._seen: dict[ResourceKey, tuple[str, Manifest | None]] = {}
        self._warnings: tuple[str, ...] = ()
        # What the last pass reported, so events say what changed rather than repeat themselves.
        self._drift_seen: frozenset[ResourceKey] = frozenset()
        self._health_seen: dict[ResourceKey | None, Health | None] | None = None

    def __repr__(self) -> str:
        return f"Reconciler(name={self.name!r}, source={self.source!r}, namespace={self.namespace!r})"

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the last comparison (of :meth:`reconcile`, :meth:`diff`, :meth:`plan`...) found worth saying.

        ``rendered 0 objects from <path>`` when the render was empty: the app then reports Synced and Healthy,
        as Argo CD's does, though it deploys nothing. :attr:`ReconcileResult.warnings` holds the same.
        """
        return self._warnings

    def render(self) -> tuple[Resource, ...]:
        """The objects a sync would apply now: rendered, namespaced, tracked, hooks included.

        Argo CD's ``argocd app manifests``. The cluster is read only for which kinds are namespaced and what it
        serves; nothing is changed. Hooks carry their hook annotations
        (:func:`~reconcile.argocd.hooks.is_hook` tells them apart).

        Raises:
            ReconcileError: The source or the render failed.
        """
        snapshot = self.source.fetch()
        renderer = self.renderer
        if isinstance(renderer, ClusterAwareRenderer):
            renderer = renderer.for_cluster(self.cluster.capabilities())
        return self._targets(renderer.render(snapshot))

    def tree(self, *, max_children: int = 10, events: bool = True) -> ResourceTree:
        """The app's objects and the live objects they own, with health, sync status and recent Events.

        Deployment -> ReplicaSet -> Pod, StatefulSet/DaemonSet/Job -> Pod, CronJob -> Job, Service ->
        EndpointSlice, a StatefulSet's volume claims (:data:`reconcile.tree.CHILD_KINDS`), read with one LIST per
        kind in play (from the live cache when the cluster is a :class:`~reconcile.cluster.CachedCluster`) and
        one LIST of Events per namespace. ``str()`` draws it; a notebook shows it as a picture.

        Args:
            max_children: The most children of one kind shown under one node; the rest become one summary node
                (a Deployment of 500 Pods shows the troubled ones first, then ``N more Pod objects: ...``).
            events: Whether to read Events.

        Raises:
            ReconcileError: A stage failed (source, render, cluster).
        """
        diff = self._compare().diff
        verdicts = {d.key: assess(d.live, self.health_checks) for d in diff.resources if d.live is not None}
        return self._tree(diff, verdicts, max_children=max_children, events=events)

    def _tree(
        self,
        diff: DiffResult,
        verdicts: Mapping[ResourceKey, Health | None],
        *,
        max_children: int = 10,
        events: bool = True,
    ) -> ResourceTree:
        missing = Health(HealthStatus.MISSING, "")
        managed = [
            (d.key, d.live, d.status, verdicts.get(d.key) if d.live is not None else missing) for d in diff.resources
        ]
        health = app_health((d.live, verdicts.get(d.key)) for d in diff.resources if not d.requires_pruning)
        status = SyncStatus.OUT_OF_SYNC if diff.modified else SyncStatus.SYNCED
        builder = TreeBuilder(self.cluster, checks=self.health_checks, max_children=max_children, events=events)
        return builder.build(self.name, managed, sync_status=status, health=health)

    def diff(self) -> DiffResult:
        """Compare the desired state with the cluster; changes nothing.

        Raises:
            ReconcileError: A stage failed (source, render, cluster).
        """
        return self._compare().diff

    def sync(self, *, dry_run: bool = False, prune: bool | None = None) -> SyncResult:
        """Sync now, whatever the automated policy says, and wait for it to end.

        A failed operation is tried again, on a fresh comparison, as the policy's ``retry`` allows.

        Args:
            dry_run: Validate every change with the server and change nothing.
            prune: Delete objects that left Git; ``None`` follows the policy.

        Raises:
            ReconcileError: A stage before the sync failed. Object-level failures are in the result.
        """
        prune = self.policy.prune if prune is None else prune
        with bounded(self.pass_timeout):
            result = self._sync(self._compare(), dry_run=dry_run, prune=prune)
            delays = self.policy.retry.delays() if self.policy.retry is not None and not dry_run else iter(())
            for delay in delays:
                left = remaining()
                if result.succeeded or (left is not None and left <= delay):
                    break
                self._log.info("reconcile.sync.retrying", seconds=delay, message=result.message)
                time.sleep(delay)
                result = self._sync(self._compare(), dry_run=dry_run, prune=prune)
        if self._events and not result.succeeded:
            self._events.emit(OperationFailed(app=self.name, message=result.message, result=result))
        return result

    def delete(self, *, dry_run: bool = False, propagation: PropagationPolicy = "Foreground") -> SyncResult:
        """Delete every object this application owns, as deleting an Argo CD Application with cascade does.

        Objects are found by this application's tracking annotation only (never by name), deleted in reverse kind
        order; an object annotated ``argocd.argoproj.io/sync-options: Delete=false`` is left in place.

        Args:
            dry_run: Ask the server to validate each deletion and change nothing.
            propagation: How dependents go (``Foreground``, ``Background``, ``Orphan``).

        Raises:
            ClusterError: The objects could not be listed. A failed deletion is a result, not an exception.
        """
        started = dt.datetime.now(dt.UTC)
        self._kinds_in_play = None  # every kind: the app may own objects of kinds Git no longer names
        owned = {key: obj for key, obj in self._read_live(()).items() if self._owns(obj)}
        results = [
            self._delete_one(key, owned[key], dry_run=dry_run, propagation=propagation) for key in prune_order(owned)
        ]
        failed = [r for r in results if not r.succeeded]
        phase = OperationPhase.FAILED if failed else OperationPhase.SUCCEEDED
        message = f"{len(failed)} of {len(results)} deletions failed" if failed else f"deleted {len(results)} objects"
        return SyncResult(phase=phase, message=message, resources=tuple(results), dry_run=dry_run, started_at=started)

    def actions(self, key: ResourceKey) -> tuple[ResourceAction, ...]:
        """The actions one of this app's live objects offers now (its kind's ``discovery.lua``).

        Raises:
            ActionError: No actions were given, the object is not this app's, or the discovery script failed.
            ClusterError: The object could not be read.
        """
        provider, live = self._action_target(key, "")
        found: tuple[ResourceAction, ...] = provider.discover(live)
        return found

    def run_action(
        self,
        key: ResourceKey,
        name: str,
        params: Mapping[str, str] | None = None,
        *,
        dry_run: bool = False,
    ) -> ActionOutcome:
        """Run a resource action on one of this app's live objects and apply what it changes (Argo CD's actions).

        The script's object is sent as a JSON merge patch of what it changed; objects it creates are created in
        the same namespace. Every change is validated by the server before any is made.

        Args:
            key: The object.
            name: The action (``restart``, ``scale``...; see :meth:`actions`).
            params: Its parameters, as text (``{"replicas": "3"}``).
            dry_run: Let the server validate the changes and make none.

        Raises:
            ActionError: No actions were given, the object is not this app's, no such action, the script failed,
                or its result cannot be applied.
            ClusterError: The object could not be read, or the server refused a change.
        """
        provider, live = self._action_target(key, name)
        outcome = run_action(self.cluster, provider, live, name, params, dry_run=dry_run)
        self._log.info("reconcile.app.action", key=str(key), action=name, dry_run=dry_run, changes=len(outcome.changes))
        return outcome

    def orphans(
        self,
        *,
        ignore: Iterable[tracking.OrphanIgnore | Mapping[str, str]] = (),
        namespaces: Iterable[str] | None = None,
    ) -> tuple[ResourceKey, ...]:
        """Objects in the app's namespace that no application tracks (Argo CD's orphaned resources); reads only.

        Top-level objects only (none with owner references), untracked by our annotation and by Argo CD's tracking;
        the ``default`` ServiceAccount, ``kube-root-ca.crt``, Events, Endpoints, Leases and ``ignore`` entries
        (Argo CD's ``orphanedResources.ignore``: ``{"group", "kind", "name"}`` shell patterns) never count. Nothing
        is ever deleted for being an orphan.

        Args:
            ignore: Objects never reported.
            namespaces: Where to look; the app's destination namespace by default.

        Raises:
            ClusterError: A namespace could not be listed.
        """
        rules = [r if isinstance(r, tracking.OrphanIgnore) else tracking.OrphanIgnore(**dict(r)) for r in ignore]
        places = sorted(set(namespaces)) if namespaces is not None else [self.namespace]
        objects = [obj for namespace in places for obj in self.cluster.list(None, namespace=namespace)]
        return tracking.orphans(objects, ignore=rules, argocd=self.adopt)

    def _owns(self, obj: Manifest) -> bool:
        return tracking.owns(obj, self.name, self.adopt)

    def _may_be_ours(self, wanted: set[ResourceKey]) -> Callable[[Manifest], bool]:
        """A quick test of a stored object (read, never changed): a target by kind, namespace and name, or ours."""
        names = {(key.kind, key.namespace, key.name) for key in wanted}
        prefix = f"{self.name}:"

        def test(obj: Manifest) -> bool:
            metadata = obj.get("metadata") or {}
            if (obj.get("kind"), metadata.get("namespace") or "", metadata.get("name")) in names:
                return True
            if self.adopt is not None:
                return self._owns(obj)
            value = (metadata.get("annotations") or {}).get(tracking.TRACKING_ANNOTATION)
            return isinstance(value, str) and value.startswith(prefix)

        return test

    def _action_target(self, key: ResourceKey, name: str) -> tuple[ResourceActions, Manifest]:
        if self.resource_actions is None:
            raise ActionError(f"{self.name}: no resource actions were given (actions=...)", key=key, action=name)
        live = self.cluster.get(key)
        if live is None:
            raise ActionError(f"{key} does not exist", key=key, action=name)
        if not self._owns(live):
            raise ActionError(f"{key} is not part of application {self.name!r}", key=key, action=name)
        return self.resource_actions, live

    def _delete_one(
        self, key: ResourceKey, live: Manifest, *, dry_run: bool, propagation: PropagationPolicy
    ) -> ResourceResult:
        if has_option(live, "Delete=false"):
            return ResourceResult(
                key=key, status=ResultCode.PRUNE_SKIPPED, action=SyncAction.PRUNE, message="ignored (Delete=false)"
            )
        try:
            self.cluster.delete(key, propagation=propagation, dry_run=dry_run)
        except NotFoundError:
            pass  # gone already
        except ClusterError as exc:
            return ResourceResult(key=key, status=ResultCode.SYNC_FAILED, action=SyncAction.PRUNE, message=exc.message)
        word = "deleted (dry run)" if dry_run else "deleted"
        self._log.info("reconcile.app.deleted", key=str(key), dry_run=dry_run)
        return ResourceResult(key=key, status=ResultCode.PRUNED, action=SyncAction.PRUNE, message=word)

    def plan(self, *, prune: bool | None = None) -> SyncPlan:
        """What a sync would do now, phase by phase and wave by wave, and why; changes nothing.

        Raises:
            ReconcileError: A stage failed (source, render, cluster).
            ConfigurationError: The Reconciler's syncer is not a :class:`~reconcile.sync.ArgoSyncer`.
        """
        return self._plan(self._compare(), prune=prune)

    def _plan(self, comparison: _Comparison, *, prune: bool | None) -> SyncPlan:
        targets, diff = self._sync_input(comparison)
        return self._syncer().plan(
            self.cluster,
            app=self.name,
            targets=targets,
            diff=diff,
            hooks=comparison.hooks,
            prune=self.policy.prune if prune is None else prune,
            create_namespace=self._destination_namespace(),
            revision=comparison.revision,
            allow_empty=self.policy.allow_empty,
        )

    def start_sync(self, *, dry_run: bool = False, prune: bool | None = None) -> SyncOperation:
        """A sync operation for the current plan, to drive one ``step()`` at a time (or ``run()``).

        Raises:
            ReconcileError: A stage failed (source, render, cluster).
            ConfigurationError: The Reconciler's syncer is not a :class:`~reconcile.sync.ArgoSyncer`.
        """
        comparison = self._compare()
        plan = self._plan(comparison, prune=prune)
        return self._syncer().start(self.cluster, plan, app=self.name, dry_run=dry_run, revision=comparison.revision)

    def _destination_namespace(self) -> str | Manifest | None:
        """What ``CreateNamespace`` asks for: the name, or the Namespace with its managed metadata."""
        if not self.policy.create_namespace:
            return None
        metadata = self.policy.managed_namespace_metadata
        if not metadata:
            return self.namespace
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace, **metadata}}

    def _syncer(self) -> PlanningSyncer:
        if not isinstance(self.syncer, PlanningSyncer):
            raise ConfigurationError(
                f"plans and step-driven syncs need a reconcile.sync.PlanningSyncer (plan, start), not {self.syncer!r}"
            )
        return self.syncer

    def reconcile(self) -> ReconcileResult:
        """One pass: fetch, render, compare, and sync when the policy says so. Never raises a ReconcileError.

        The pass takes at most ``pass_timeout`` seconds (see the class): past it, the result says what it was
        doing (a stage's error, or a sync terminated while waiting for an object or hook).
        """
        with bounded(self.pass_timeout):
            result = self._reconcile()
        if self._events:
            self._report(result)
        return result

    def _report(self, result: ReconcileResult) -> None:
        """The pass's last events: health that changed, a failure, then the pass's end."""
        emit, app = self._events.emit, self.name
        if result.error is None or result.health is not None:
            seen = self._health_seen
            now: dict[ResourceKey | None, Health | None] = {r.key: r.health for r in result.resources}
            now[None] = result.health
            if seen is None or seen.get(None) != result.health:
                emit(HealthChanged(app=app, key=None, old=None if seen is None else seen.get(None), new=result.health))
            if seen is not None:
                for key in sorted(k for k in set(now) | set(seen) if k is not None):
                    if now.get(key) != seen.get(key):
                        emit(HealthChanged(app=app, key=key, old=seen.get(key), new=now.get(key)))
            self._health_seen = now
        if result.error is not None:
            emit(OperationFailed(app=app, message=str(result.error), error=result.error, result=result.sync))
        elif result.sync is not None and not result.sync.succeeded:
            emit(OperationFailed(app=app, message=result.sync.message, result=result.sync))
        emit(PassFinished(app=app, result=result))

    def _reconcile(self) -> ReconcileResult:
        started = dt.datetime.now(dt.UTC)
        try:
            comparison = self._compare()
        except ReconcileError as exc:
            self._log.warning("reconcile.pass.failed", error=str(exc), error_type=type(exc).__name__)
            return ReconcileResult(app=self.name, sync_status=SyncStatus.UNKNOWN, error=exc, started_at=started)
        log = self._log.bind(revision=comparison.revision.sha)
        if self._events:
            self._report_drift(comparison)
        sync_result: SyncResult | None = None
        error: ReconcileError | None = None
        final = comparison.diff
        reason = self._auto_sync_reason(comparison)
        if reason is not None:
            try:
                self._refuse_empty(comparison)
                log.info("reconcile.sync.started", reason=reason)
                sync_result = self._sync(
                    comparison, dry_run=False, prune=self.policy.prune, out_of_sync_only=reason == "self-heal"
                )
                self._last_sync = (comparison.revision.sha, sync_result.succeeded)
                final = self._after_sync(comparison, sync_result.stored)
            except ReconcileError as exc:
                log.warning("reconcile.sync.failed", error=str(exc), error_type=type(exc).__name__)
                error = exc
        verdicts = self._assess(final)
        result = ReconcileResult(
            app=self.name,
            sync_status=SyncStatus.OUT_OF_SYNC if final.modified else SyncStatus.SYNCED,
            health=app_health((d.live, verdicts.get(d.key)) for d in final.resources if not d.requires_pruning),
            revision=comparison.revision,
            resources=_statuses(comparison.diff, final, sync_result, verdicts),
            diff=comparison.diff,
            sync=sync_result,
            error=error,
            warnings=self._warnings,
            started_at=started,
            tree=self._tree(final, verdicts) if self.resource_tree else None,
        )
        log.info(
            "reconcile.pass.finished",
            sync_status=str(result.sync_status),
            health=str(result.health.status) if result.health is not None else None,
            synced=sync_result is not None,
            seconds=round(result.duration.total_seconds(), 3),
        )
        return result

    def _report_drift(self, comparison: _Comparison) -> None:
        """A DriftDetected event when the pass finds drift other than what the last pass found."""
        drift = frozenset(d.key for d in comparison.diff.modified_resources)
        if drift and drift != self._drift_seen:
            self._events.emit(
                DriftDetected(
                    app=self.name, revision=comparison.revision, diff=comparison.diff, keys=tuple(sorted(drift))
                )
            )
        self._drift_seen = drift

    def _assess(self, diff: DiffResult) -> dict[ResourceKey, Health | None]:
        """Each live object's health, assessed again only when its resourceVersion changed."""
        verdicts: dict[ResourceKey, Health | None] = {}
        memo: dict[tuple[ResourceKey, str], Health | None] = {}
        for d in diff.resources:
            if d.live is None:
                continue
            version = str((d.live.get("metadata") or {}).get("resourceVersion") or "")
            known = (d.key, version)
            if version and known in self._verdicts:
                verdicts[d.key] = memo[known] = self._verdicts[known]
            else:
                verdicts[d.key] = memo[known] = assess(d.live, self.health_checks)
        self._verdicts = memo
        return verdicts

    def _auto_sync_reason(self, comparison: _Comparison) -> str | None:
        """Why an automated sync should run now, or ``None`` (the reference's rules)."""
        diff = comparison.diff
        if not self.policy.automated or not diff.modified:
            return None
        if not self.policy.prune and all(d.requires_pruning for d in diff.modified_resources):
            return None  # only pruning would help, and pruning is off
        if self._last_sync is None or self._last_sync[0] != comparison.revision.sha:
            return "new revision"
        if self.policy.self_heal:
            return "self-heal"
        return None

    def _refuse_empty(self, comparison: _Comparison) -> None:
        if comparison.targets or self.policy.allow_empty:
            return
        owned = [d.key for d in comparison.diff.resources if d.requires_pruning]
        if owned:
            raise SyncError(
                f"refusing to sync {comparison.revision}: the render is empty and syncing would prune all "
                f"{len(owned)} objects of {self.name!r}; set allow_empty=True to allow it"
            )

    def _sync(
        self, comparison: _Comparison, *, dry_run: bool, prune: bool, out_of_sync_only: bool = False
    ) -> SyncResult:
        """Sync the comparison's targets; ``out_of_sync_only`` makes it the reference's self-heal sync.

        Self-heal syncs only the objects found out of sync (Argo CD selects them, as a selective sync does), and a
        selective sync runs no hooks: healing one drifted object is one write, whatever the app's size.
        """
        drifted = {d.key for d in comparison.diff.modified_resources} if out_of_sync_only else None
        targets, diff = self._sync_input(comparison, drifted)
        hooks = () if out_of_sync_only else comparison.hooks
        return self.syncer.sync(
            self.cluster,
            app=self.name,
            targets=targets,
            diff=diff,
            hooks=hooks,
            prune=prune,
            dry_run=dry_run,
            create_namespace=self._destination_namespace(),
            revision=comparison.revision,
        )

    def _sync_input(
        self, comparison: _Comparison, only: set[ResourceKey] | None = None
    ) -> tuple[tuple[Resource, ...], DiffResult]:
        """The targets to apply and the comparison to plan with, those of ``only`` when given."""
        diff = comparison.diff
        if only is not None:
            diff = DiffResult([d for d in diff.resources if d.key in only])
        targets = self._sync_targets(comparison, only)
        originals = {id(target) for target in comparison.targets}
        rewritten = {target.key for target in targets if id(target) not in originals}
        if rewritten:
            # Kept live values (RespectIgnoreDifferences) make another request than the comparison's dry run.
            diff = DiffResult([attrs.evolve(d, dry_run_by=None) if d.key in rewritten else d for d in diff.resources])
        return targets, diff

    def _sync_targets(self, comparison: _Comparison, only: set[ResourceKey] | None = None) -> tuple[Resource, ...]:
        """The targets to apply, those of ``only`` when given.

        With ``RespectIgnoreDifferences``, ignored fields keep their live values.
        """
        targets = []
        rules = self.diff_settings.with_rules(self.ignore_differences)
        for target in comparison.targets:
            if only is not None and target.key not in only:
                continue
            live = comparison.live.get(target.key)
            if live is None or not rules:
                targets.append(target)
                continue
            respect = self.policy.respect_ignore_differences or has_option(
                target.manifest, f"{RESPECT_IGNORE_DIFFERENCES}=true"
            )
            if respect:
                kept = keep_live_values(rules, target.key, target.manifest, live)
                targets.append(Resource.from_manifest(kept, target.source))
            else:
                targets.append(target)
        return tuple(targets)

    def _compare(self) -> _Comparison:
        snapshot = self.source.fetch()
        sha = snapshot.revision.sha
        rendered_now = self._stable_targets(snapshot)
        self._warnings = () if rendered_now else (f"rendered 0 objects from {_described(snapshot)}",)
        if not rendered_now:
            self._log.warning("reconcile.render.empty", path=snapshot.path, revision=sha)
        targets, hooks = split_hooks(self._targets_made[2] if self._targets_made is not None else ())
        # Hooks are run, not kept in sync: a hook left from an earlier sync is never a leftover to prune.
        live = {key: obj for key, obj in self._read_live(targets).items() if not is_hook(obj)}
        diff = self.differ.diff(targets, live, cluster=self.cluster)
        return _Comparison(revision=snapshot.revision, targets=targets, diff=diff, live=live, hooks=hooks)

    def _render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        renderer = self.renderer
        if isinstance(renderer, ClusterAwareRenderer):
            # Read per revision: a CRD installed since adds API versions a chart may test for.
            renderer = renderer.for_cluster(self.cluster.capabilities())
        return renderer.render(snapshot)

    def _stable_targets(self, snapshot: Snapshot) -> int:
        """Make :meth:`_targets` again only when the revision or the cluster's namespaced kinds changed.

        Only the targets are kept between passes, not the render they were made from (one copy of each desired
        object less): the render is made again only in the rare case of the same revision meeting new scopes.
        Returns how many objects the revision rendered.
        """
        sha = snapshot.revision.sha
        made = self._targets_made
        if made is None or made[0] != sha:
            rendered = self._render(snapshot)
            made = None
        else:
            rendered = None
        kinds = {r.key.group_kind for r in (rendered if rendered is not None else made[2] if made else ())}
        scopes = tuple(sorted((kind, self.cluster.is_namespaced(kind)) for kind in kinds))
        if made is not None and made[1] == scopes:
            return made[3]
        if rendered is None:
            rendered = self._render(snapshot)
        self._targets_made = (sha, scopes, self._targets(rendered), len(rendered))
        return len(rendered)

    def _targets(self, rendered: Sequence[Resource]) -> tuple[Resource, ...]:
        """The rendered objects as they will be applied: namespaced, tracked, list keys filled."""
        crd_scopes = {
            crd_kind(r.manifest): (r.manifest.get("spec") or {}).get("scope") == "Namespaced"
            for r in rendered
            if r.key.group_kind == CRD
        }
        targets = []
        for resource in rendered:
            manifest: Manifest = fill_list_keys(resource.manifest)
            namespaced = self.cluster.is_namespaced(resource.key.group_kind)
            if namespaced is None:
                # Served by a CRD in this very render, or unknown: then the apply names the missing kind.
                namespaced = crd_scopes.get(resource.key.group_kind, True)
            metadata = manifest.setdefault("metadata", {})
            if namespaced and not metadata.get("namespace"):
                metadata["namespace"] = self.namespace
            elif not namespaced:
                metadata.pop("namespace", None)
            targets.append(Resource.from_manifest(tracking.annotate(manifest, self.name), resource.source))
        check_unique(targets)
        return tuple(sorted(targets, key=lambda r: r.key))

    def _get_in_version(self, key: ResourceKey, api_version: str) -> Manifest | None:
        try:
            return self.cluster.get(key, api_version=api_version)
        except UnknownKindError:
            return None  # Git names a version the server does not serve: the sync's dry run says so

    def _after_sync(self, comparison: _Comparison, stored: Mapping[ResourceKey, Manifest]) -> DiffResult:
        """The state a sync left.

        The comparison with the objects the sync wrote compared again, when the cluster's resourceVersions say
        nothing else moved; otherwise everything read and compared again.
        """
        if isinstance(self.differ, IncrementalDiffer):
            quick = self._only_written(comparison, stored)
            if quick is not None:
                live, written = quick
                return self.differ.update(
                    comparison.diff, comparison.targets, live, written, cluster=self.cluster, stored=stored
                )
        return self._diff_live(comparison.targets, stored=stored)

    def _only_written(
        self, comparison: _Comparison, stored: Mapping[ResourceKey, Manifest]
    ) -> tuple[dict[ResourceKey, Manifest], set[ResourceKey]] | None:
        """The live objects after a sync and the keys it wrote, or ``None`` when anything else moved meanwhile.

        Read from the versions alone (no object is read): every object of the places in play still has the version
        the comparison saw, or the version of the sync's answer for it. A new, deleted or otherwise changed object
        (a prune, a hook, a controller's write, health awaited between waves) sends the pass to a full read.
        """
        if not stored or not isinstance(self.cluster, VersionedCluster):
            return None
        targets = {target.key: target for target in comparison.targets}
        written: dict[ResourceKey, Manifest] = {}
        present: set[ResourceKey] = set()
        for group_kind, namespace in self._places_in_play(set(targets)):
            try:
                current = self.cluster.versions(group_kind, namespace=namespace)
            except UnknownKindError:
                return None
            for key, version in current.items():
                present.add(key)
                known = self._seen.get(key)
                if known is not None and version and known[0] == version:
                    continue
                target = targets.get(key)
                if target is None or not _answers(stored, key, version):
                    return None
                if stored[key].get("apiVersion") != target.api_version:
                    return None
                written[key] = stored[key]
        if len(present) < len(self._seen) or any(key not in present for key in self._seen):
            return None  # deleted meanwhile
        for key, answer in written.items():
            self._seen[key] = (_resource_version(answer), answer)
        return {**comparison.live, **written}, set(written)

    def _diff_live(
        self, targets: Sequence[Resource], stored: Mapping[ResourceKey, Manifest] | None = None
    ) -> DiffResult:
        return self.differ.diff(targets, self._read_live(targets, stored), cluster=self.cluster, stored=stored)

    def _read_live(
        self, targets: Sequence[Resource], stored: Mapping[ResourceKey, Manifest] | None = None
    ) -> dict[ResourceKey, Manifest]:
        """The live objects the app targets or owns: one LIST per kind in play (or fewer reads).

        The first pass looks at every kind the cluster serves, to find what the app owns anywhere; later passes read
        only the kinds of the targets and of the objects the app owned last time (so an object whose kind left Git
        is still found and pruned), in the app's namespaces. A cluster that tells resourceVersions without objects
        (:class:`~reconcile.protocols.VersionedCluster`) is asked for those, and only objects that changed since the
        last pass are read: the others are the last pass's objects, shared, not copied again. An object a sync just
        wrote (``stored``, the server's answers) is taken from its answer while its resourceVersion is the answer's.
        """
        wanted = {t.key for t in targets}
        versions = {t.key: t.api_version for t in targets}
        seen: dict[ResourceKey, tuple[str, Manifest | None]] = {}
        live: dict[ResourceKey, Manifest] = {}
        objects: list[Manifest] = []
        pairs: list[tuple[ResourceKey, Manifest]] = []  # read with their keys already known
        if self._kinds_in_play is None and isinstance(self.cluster, SelectingCluster):
            objects = self.cluster.select(self._may_be_ours(wanted))
        elif self._kinds_in_play is None:
            objects = self.cluster.list()
        elif isinstance(self.cluster, VersionedCluster):
            pairs = self._read_changed(self.cluster, wanted, versions, seen, live, stored=stored or {})
        else:
            for group_kind, namespace in self._places_in_play(wanted):
                try:
                    objects += self.cluster.list(group_kind, namespace=namespace)
                except UnknownKindError:
                    continue  # its CRD is not applied yet (or is gone, and its objects with it)
        for key, obj in [*pairs, *((ResourceKey.from_manifest(obj), obj) for obj in objects)]:
            if key in versions and obj.get("apiVersion") != versions[key]:
                # Listed in the preferred version: compare in the version Git uses (an HPA in v2beta2 and v1
                # hold the same object in different shapes).
                obj = self._get_in_version(key, versions[key]) or obj  # noqa: PLW2901
            kept = key in wanted or self._owns(obj)
            if kept:
                live[key] = obj
            seen[key] = (_resource_version(obj), obj if kept else None)
        self._seen = seen
        self._kinds_in_play = {key.group_kind for key in live} | {key.group_kind for key in wanted}
        self._namespaces_in_play = {key.namespace for key in live if key.namespace}
        return live

    def _places_in_play(self, wanted: set[ResourceKey]) -> list[tuple[GroupKind, str | None]]:
        """The (kind, namespace) pairs a later pass reads; ``None`` for a whole kind.

        The namespaces are the app's objects', now and last pass: many apps sharing a cluster then read their own
        namespaces only, not every app's objects of a kind.
        """
        namespaces = sorted(self._namespaces_in_play | {key.namespace for key in wanted if key.namespace})
        places: list[tuple[GroupKind, str | None]] = []
        for group_kind in sorted((self._kinds_in_play or set()) | {key.group_kind for key in wanted}):
            if self.cluster.is_namespaced(group_kind) is False or len(namespaces) > _MAX_NAMESPACE_LISTS:
                places.append((group_kind, None))
            else:
                places += [(group_kind, namespace) for namespace in namespaces]
        return places

    def _read_changed(
        self,
        cluster: VersionedCluster,
        wanted: set[ResourceKey],
        versions: Mapping[ResourceKey, str],
        seen: dict[ResourceKey, tuple[str, Manifest | None]],
        live: dict[ResourceKey, Manifest],
        *,
        stored: Mapping[ResourceKey, Manifest],
    ) -> list[tuple[ResourceKey, Manifest]]:
        """The objects read again because their resourceVersion changed.

        The last pass's objects whose resourceVersion is unchanged go straight into ``live`` (when still in play)
        and ``seen``; objects of others that did not change are not read, and are carried into ``seen`` as such.
        Changed objects are taken from a sync's answers (``stored``) at their version, else read one GET each, or
        by one LIST of their kind and namespace when more than a few changed (a rollout moving many Deployments).
        """
        objects: list[tuple[ResourceKey, Manifest]] = []
        for group_kind, namespace in self._places_in_play(wanted):
            try:
                current = cluster.versions(group_kind, namespace=namespace)
            except UnknownKindError:
                continue  # its CRD is not applied yet (or is gone, and its objects with it)
            changed: list[tuple[ResourceKey, str]] = []
            for key, version in current.items():
                known = self._seen.get(key)
                if known is not None and version and known[0] == version:
                    last = known[1]
                    if last is None:
                        seen[key] = known  # not the app's, and unchanged
                        continue
                    if key not in versions or last.get("apiVersion") == versions[key]:
                        if key in wanted or self._owns(last):
                            live[key] = last
                            seen[key] = known
                        else:
                            seen[key] = (version, None)  # left Git, and was never ours
                        continue
                changed.append((key, version))
            objects += self._read_place(cluster, group_kind, namespace, changed, versions=versions, stored=stored)
        return objects

    def _read_place(
        self,
        cluster: VersionedCluster,
        group_kind: GroupKind,
        namespace: str | None,
        changed: Sequence[tuple[ResourceKey, str]],
        *,
        versions: Mapping[ResourceKey, str],
        stored: Mapping[ResourceKey, Manifest],
    ) -> list[tuple[ResourceKey, Manifest]]:
        """The changed objects of one kind and namespace: one LIST when more than a few must be read."""
        unanswered = sum(not _answers(stored, key, version) for key, version in changed)
        listed: dict[ResourceKey, Manifest] = {}
        if unanswered > _MAX_GETS_PER_PLACE:
            try:
                listed = {ResourceKey.from_manifest(obj): obj for obj in cluster.list(group_kind, namespace=namespace)}
            except UnknownKindError:
                return []  # gone since its versions were read
        found = []
        for key, version in changed:
            fresh = self._read_one(
                cluster, key, version=version, api_version=versions.get(key), listed=listed, stored=stored
            )
            if fresh is not None:
                found.append((key, fresh))
        return found

    def _read_one(
        self,
        cluster: VersionedCluster,
        key: ResourceKey,
        *,
        version: str,
        api_version: str | None,
        listed: Mapping[ResourceKey, Manifest],
        stored: Mapping[ResourceKey, Manifest],
    ) -> Manifest | None:
        """A changed object: a sync's answer at ``version``, the object just listed, or one GET (in ``api_version``)."""
        for found in (stored.get(key) if _answers(stored, key, version) else None, listed.get(key)):
            if found is not None and (api_version is None or found.get("apiVersion") == api_version):
                return found
        return self._get_in_version(key, api_version) if api_version is not None else cluster.get(key)


def _answers(stored: Mapping[ResourceKey, Manifest], key: ResourceKey, version: str) -> bool:
    """Whether a sync's answer for ``key`` is the object at ``version``."""
    answer = stored.get(key)
    return answer is not None and bool(version) and _resource_version(answer) == version


def _resource_version(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _statuses(
    before: DiffResult, after: DiffResult, sync: SyncResult | None, verdicts: Mapping[ResourceKey, Health | None]
) -> tuple[ResourceStatus, ...]:
    """Each object's status: the action from the first comparison, the status and health from the last."""
    synced: dict[ResourceKey, ResourceResult] = {r.key: r for r in sync.resources} if sync else {}
    final = {d.key: d for d in after.resources}
    statuses = []
    for d in before.resources:
        outcome = synced.get(d.key)
        now = final.get(d.key)
        status = now.status if now is not None else SyncStatus.SYNCED  # gone after a prune
        statuses.append(
            ResourceStatus(
                key=d.key,
                status=status,
                action=_action(d),
                message=outcome.message if outcome else _why(d),
                result=outcome.status if outcome else None,
                health=verdicts.get(d.key),
            )
        )
    return tuple(statuses)


def _action(d: ResourceDiff) -> SyncAction:
    if d.missing:
        return SyncAction.CREATE
    if d.requires_pruning:
        return SyncAction.PRUNE
    return SyncAction.UPDATE if d.modified else SyncAction.NONE


def _why(d: ResourceDiff) -> str:
    if d.missing:
        return "missing from the cluster"
    if d.requires_pruning:
        return "requires pruning"
    if d.changes:
        paths = [c.path for c in d.changes]
        shown = ", ".join(paths[:_SHOWN_PATHS])
        return f"differs at {shown}" + (f" and {len(paths) - _SHOWN_PATHS} more" if len(paths) > _SHOWN_PATHS else "")
    return ""
