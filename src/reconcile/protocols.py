"""The plug points the engine depends on, as small :class:`typing.Protocol` classes.

Each has a real implementation in the library. The Reconciler depends on these, never on concrete classes, so a
host can bring its own source, renderer, cluster or health checks; a capability some clusters have (watching,
client-side apply) is a protocol of its own, checked with ``isinstance``. The engine's own plug points sit beside
their implementations and result types: :class:`reconcile.diff.Differ`, :class:`reconcile.sync.Syncer` and
:class:`reconcile.sync.PlanningSyncer`. So nothing here imports the engine, and no import goes in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from reconcile.model import (
    Capabilities,
    GroupKind,
    Health,
    Manifest,
    PropagationPolicy,
    Resource,
    ResourceKey,
    Snapshot,
)

__all__ = [
    "ClientSideApplyCluster",
    "Cluster",
    "ClusterAwareRenderer",
    "EventSink",
    "HealthCheck",
    "HealthChecks",
    "Renderer",
    "ResourceActions",
    "SelectingCluster",
    "Source",
    "VersionedCluster",
    "WatchableCluster",
]


@runtime_checkable
class Source(Protocol):
    """Where the desired state lives: a Git repository, a folder."""

    def fetch(self) -> Snapshot:
        """Bring the desired state to local disk and say exactly which revision it is.

        Raises:
            SourceError: The state could not be fetched; ``retryable`` says whether trying again may help.
        """
        ...


@runtime_checkable
class Renderer(Protocol):
    """Turns a snapshot's files into Kubernetes objects."""

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """Render the snapshot's application folder, sorted by key.

        Raises:
            RenderError: The files could not be rendered (a :class:`ManifestError` names the file and line).
        """
        ...


@runtime_checkable
class ClusterAwareRenderer(Renderer, Protocol):
    """A renderer whose output depends on the target cluster (Helm's ``.Capabilities``).

    The Reconciler calls :meth:`for_cluster` once with its cluster's capabilities and renders with the result.
    """

    def for_cluster(self, capabilities: Capabilities) -> Renderer:
        """This renderer set up for a cluster with ``capabilities`` (settings given explicitly win)."""
        ...


@runtime_checkable
class Cluster(Protocol):
    """A Kubernetes API: the real one, or the in-memory model.

    Objects go in and come out as plain dicts; the cluster never keeps a reference to a caller's dict.
    Every write accepts ``dry_run`` (the server validates and defaults, and persists nothing).
    """

    def get(self, key: ResourceKey, *, api_version: str | None = None) -> Manifest | None:
        """The live object, or ``None`` when it does not exist; in ``api_version`` when given."""
        ...

    def list(self, group_kind: GroupKind | None = None, *, namespace: str | None = None) -> list[Manifest]:
        """Live objects of one kind, or of every kind the cluster serves when ``group_kind`` is ``None``."""
        ...

    def is_namespaced(self, group_kind: GroupKind) -> bool | None:
        """Whether the kind is namespaced; ``None`` when the cluster does not serve it."""
        ...

    def capabilities(self) -> Capabilities:
        """The server's version and the API versions it serves, for renderers that depend on them."""
        ...

    def apply(
        self, obj: Manifest, *, field_manager: str = "reconcile", force: bool = False, dry_run: bool = False
    ) -> Manifest:
        """Server-side apply ``obj`` as ``field_manager``; returns the object as stored (or as it would be)."""
        ...

    def create(self, obj: Manifest, *, field_manager: str = "reconcile", dry_run: bool = False) -> Manifest:
        """Create ``obj``; :class:`~reconcile.errors.ConflictError` when it exists already."""
        ...

    def replace(self, obj: Manifest, *, field_manager: str = "reconcile", dry_run: bool = False) -> Manifest:
        """Replace the whole object (``kubectl replace``); :class:`~reconcile.errors.NotFoundError` when missing."""
        ...

    def patch(
        self,
        key: ResourceKey,
        patch: Mapping[str, Any],
        *,
        field_manager: str = "reconcile",
        dry_run: bool = False,
    ) -> Manifest:
        """Apply a JSON merge patch (RFC 7386), like ``kubectl patch --type=merge``."""
        ...

    def delete(self, key: ResourceKey, *, propagation: PropagationPolicy = "Background", dry_run: bool = False) -> None:
        """Delete the object; :class:`~reconcile.errors.NotFoundError` when it is already gone."""
        ...


@runtime_checkable
class WatchableCluster(Cluster, Protocol):
    """A cluster that can list a kind with its resourceVersion and watch it from there (for informers)."""

    def list_with_version(self, group_kind: GroupKind) -> tuple[list[Manifest], str]:
        """Every object of a kind, and the list's resourceVersion."""
        ...

    def watch(
        self, group_kind: GroupKind, resource_version: str, timeout: float = 300.0
    ) -> Iterator[tuple[str, Manifest]]:
        """Events of a kind from a resourceVersion; :class:`~reconcile.errors.WatchExpiredError` when too old."""
        ...


@runtime_checkable
class SelectingCluster(Cluster, Protocol):
    """A cluster that picks objects of every kind by a test, copying only those it picks.

    A Reconciler's first pass looks for what its app owns in every kind; with many apps on one in-memory cluster,
    copying every object for each app would make their first passes grow with the square of the apps.
    """

    def select(self, wanted: Callable[[Manifest], bool]) -> list[Manifest]:
        """Copies of the objects of every kind for which ``wanted(obj)`` is true, sorted by key.

        ``wanted`` is handed the stored objects themselves: it must only read them.
        """
        ...


@runtime_checkable
class VersionedCluster(Cluster, Protocol):
    """A cluster that tells the resourceVersions of a kind's objects without handing the objects over.

    A Reconciler's later passes then read again only what changed since the last pass, and keep the rest: a pass
    of 10,000 unchanged objects copies none.
    """

    def versions(self, group_kind: GroupKind, *, namespace: str | None = None) -> dict[ResourceKey, str]:
        """The resourceVersion of every object of ``group_kind`` (in ``namespace`` when given), by key.

        Raises:
            UnknownKindError: The cluster does not serve ``group_kind``.
        """
        ...


@runtime_checkable
class ClientSideApplyCluster(Cluster, Protocol):
    """A cluster that can also apply as ``kubectl apply`` without ``--server-side`` (``ServerSideApply=false``)."""

    def apply_client_side(self, obj: Manifest, *, field_manager: str | None = None, dry_run: bool = False) -> Manifest:
        """Apply ``obj`` with a three-way patch, keeping its last-applied annotation; the stored object."""
        ...


@runtime_checkable
class EventSink(Protocol):
    """Where a Reconciler or a sync operation sends its :mod:`reconcile.events`: any ``callable(event)``.

    Called on the thread that drives the pass; what it raises is logged and ignored, so it can never break a
    sync. A plain function is one, as is an object with ``__call__``.
    """

    def __call__(self, event: Any) -> None:
        """Take one event (a frozen :class:`reconcile.events.Event`)."""
        ...


HealthCheck = Callable[[Manifest], Health | None]
"""A health check: a verdict for one object, or ``None`` when it has no opinion."""


@runtime_checkable
class HealthChecks(Protocol):
    """Anything that supplies health checks per group and kind (built-in, Python, Lua)."""

    def find(self, group_kind: GroupKind) -> HealthCheck | None:
        """The check for ``group_kind``, or ``None`` when there is none."""
        ...


@runtime_checkable
class ResourceActions(Protocol):
    """What live objects offer to do (Argo CD's resource actions) and what doing one changes.

    :class:`~reconcile.health.LuaActions` and :class:`~reconcile.health.ArgoCDCatalogue` are ones.
    """

    def discover(self, obj: Manifest) -> tuple[Any, ...]:
        """The actions ``obj`` offers (:class:`~reconcile.health.ResourceAction` values)."""
        ...

    def run(
        self, obj: Manifest, name: str, params: Mapping[str, str] | None = None, *, now: float | None = None
    ) -> tuple[Any, ...]:
        """What the action ``name`` would patch and create (:class:`~reconcile.health.ImpactedResource` values).

        Raises:
            ActionError: No such action, or its script failed.
        """
        ...
