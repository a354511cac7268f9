"""The differ plug point: what the Reconciler needs from whatever compares desired with live objects."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol, runtime_checkable

from reconcile.diff._result import DiffResult
from reconcile.model import Manifest, Resource, ResourceKey
from reconcile.protocols import Cluster


@runtime_checkable
class Differ(Protocol):
    """Compares desired objects with live ones. The library's is :class:`ArgoDiffer`.

    It sits here, beside its result type, rather than in ``reconcile.protocols``: that module holds what the engine
    depends on (sources, renderers, clusters, health checks), and the results of a diff are the diff's own.
    """

    def diff(
        self,
        targets: Sequence[Resource],
        live: Mapping[ResourceKey, Manifest],
        *,
        cluster: Cluster | None = None,
        stored: Mapping[ResourceKey, Manifest] | None = None,
    ) -> DiffResult:
        """One entry per target, plus one per live object that no target names (it requires pruning).

        ``cluster`` is the cluster ``live`` came from, for differs that ask the server to predict objects;
        ``stored`` holds the server's answers to applying some of these targets just now.
        """
        ...


@runtime_checkable
class IncrementalDiffer(Differ, Protocol):
    """A differ that can also compare again only some objects of a comparison it made (:meth:`ArgoDiffer.update`).

    The Reconciler uses it after a sync whose only writes, by the resourceVersions the cluster reports, were its
    own: the state after the sync is then the comparison with those objects compared again.
    """

    def update(
        self,
        diff: DiffResult,
        targets: Sequence[Resource],
        live: Mapping[ResourceKey, Manifest],
        changed: Collection[ResourceKey],
        *,
        cluster: Cluster | None = None,
        stored: Mapping[ResourceKey, Manifest] | None = None,
    ) -> DiffResult:
        """``diff`` with the targets of ``changed`` compared again on ``live``; the other entries as they were."""
        ...
