"""Building the resource tree: the app's objects, the live objects they own, and the events about each.

Argo CD's controller keeps every object of the cluster in a cache and links them by ``ownerReferences``. Here the
kinds a managed object can own are known (:data:`CHILD_KINDS`), so a tree costs one LIST per child kind in play
(from the live cache when the cluster has one) plus one LIST of Events per namespace, never a LIST of everything.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconcile.errors import ClusterError
from reconcile.health import assess, worst
from reconcile.model import GroupKind, Health, HealthStatus, Manifest, ResourceKey, SyncStatus
from reconcile.protocols import Cluster, HealthChecks
from reconcile.sync import KIND_ORDER
from reconcile.tree._model import KubeEvent, ResourceTree, TreeNode

_DEPLOYMENT = GroupKind("apps", "Deployment")
_REPLICASET = GroupKind("apps", "ReplicaSet")
_STATEFULSET = GroupKind("apps", "StatefulSet")
_DAEMONSET = GroupKind("apps", "DaemonSet")
_REVISION = GroupKind("apps", "ControllerRevision")
_POD = GroupKind("", "Pod")
_PVC = GroupKind("", "PersistentVolumeClaim")
_JOB = GroupKind("batch", "Job")
_CRONJOB = GroupKind("batch", "CronJob")
_SERVICE = GroupKind("", "Service")
_ENDPOINTSLICE = GroupKind("discovery.k8s.io", "EndpointSlice")
_EVENT = GroupKind("", "Event")

CHILD_KINDS: Mapping[GroupKind, tuple[GroupKind, ...]] = {
    _DEPLOYMENT: (_REPLICASET,),
    _REPLICASET: (_POD,),
    _STATEFULSET: (_POD, _PVC, _REVISION),
    _DAEMONSET: (_POD, _REVISION),
    _JOB: (_POD,),
    _CRONJOB: (_JOB,),
    _SERVICE: (_ENDPOINTSLICE,),
}
"""The kinds each kind's controllers create, owned through ``ownerReferences`` (a StatefulSet's volume claims by
their names, as the claims carry no owner unless a retention policy says so)."""

EVENTS_PER_NODE = 5
"""The most recent Events kept per node."""

_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}
# Which children are kept first when a node has too many: the worst verdicts.
_SEVERITY = {
    HealthStatus.DEGRADED: 0,
    HealthStatus.MISSING: 1,
    HealthStatus.UNKNOWN: 2,
    HealthStatus.PROGRESSING: 3,
    HealthStatus.SUSPENDED: 4,
    HealthStatus.HEALTHY: 5,
}


def _uid(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _owner_uids(obj: Manifest) -> list[str]:
    return [str(ref.get("uid")) for ref in (obj.get("metadata") or {}).get("ownerReferences") or [] if ref.get("uid")]


def _order(node: TreeNode) -> tuple[Any, ...]:
    key = node.key
    if key is None:
        return (len(KIND_ORDER) + 1, "", "", "")
    return (_RANK.get(key.kind, len(KIND_ORDER)), key.kind, key.namespace, key.name)


def _event_time(event: Manifest) -> str:
    series = event.get("series") or {}
    return str(
        event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _kube_event(event: Manifest) -> KubeEvent:
    series = event.get("series") or {}
    return KubeEvent(
        type=str(event.get("type") or "Normal"),
        reason=str(event.get("reason") or ""),
        message=str(event.get("message") or event.get("note") or "").strip(),
        count=int(event.get("count") or series.get("count") or 1),
        last_seen=_event_time(event),
    )


class TreeBuilder:
    """Builds a :class:`ResourceTree` for one app from its managed objects.

    Args:
        cluster: Where the owned objects and the Events are read (one LIST per kind in play).
        checks: Custom health checks, tried before the built-in ones.
        max_children: The most children of one kind shown under one node; the rest become one summary node
            (troubled ones are shown first).
        events: Whether to read Events (one LIST per namespace in play).
        now: The time ages are measured from (tests pass one).
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        checks: HealthChecks | Sequence[HealthChecks] | None = None,
        max_children: int = 10,
        events: bool = True,
        now: dt.datetime | None = None,
    ) -> None:
        self.cluster = cluster
        self.checks = checks
        self.max_children = max_children
        self.events = events
        self.now = now
        self.lists = 0
        """LIST calls the last build made."""

    def build(
        self,
        app: str,
        managed: Iterable[tuple[ResourceKey, Manifest | None, SyncStatus | None, Health | None]],
        *,
        sync_status: SyncStatus | None = None,
        health: Health | None = None,
    ) -> ResourceTree:
        """The tree of ``app``: ``managed`` holds each object's key, live copy (``None``: missing), status, health."""
        self.lists = 0
        managed = list(managed)
        namespaces = {key.namespace for key, live, _, _ in managed if live is not None}
        owned = self._owned_objects(managed, namespaces)
        by_owner: dict[str, list[Manifest]] = defaultdict(list)
        for obj in owned:
            for uid in _owner_uids(obj):
                by_owner[uid].append(obj)
        claims = [obj for obj in owned if ResourceKey.from_manifest(obj).group_kind == _PVC]
        live_nodes = [live for _, live, _, _ in managed if live is not None]
        events = self._events(namespaces | {"default"} if any(not k.namespace for k, *_ in managed) else namespaces)
        events_by_uid = self._events_by_uid(events)
        nodes = []
        for key, live, status, verdict in managed:
            children = self._children(live, by_owner, claims, events_by_uid, seen=set()) if live is not None else ()
            nodes.append(
                TreeNode(
                    key=key,
                    health=verdict,
                    sync_status=status,
                    managed=True,
                    events=events_by_uid.get(_uid(live), ()) if live is not None else (),
                    children=children,
                )
            )
        root = TreeNode(
            key=None,
            kind="Application",
            name=app,
            health=health,
            sync_status=sync_status,
            managed=True,
            children=tuple(sorted(nodes, key=_order)),
        )
        return ResourceTree(app=app, root=root, live_objects=len(live_nodes) + len(owned))

    def _list(self, group_kind: GroupKind, namespace: str | None = None) -> list[Manifest]:
        self.lists += 1
        try:
            return self.cluster.list(group_kind, namespace=namespace)
        except ClusterError:
            return []  # a kind the server does not serve (no EndpointSlices before 1.17), or not allowed to list

    def _owned_objects(
        self, managed: Sequence[tuple[ResourceKey, Manifest | None, Any, Any]], namespaces: set[str]
    ) -> list[Manifest]:
        """Every live object of the child kinds in play, in the app's namespaces: one LIST per kind and namespace."""
        wanted: set[GroupKind] = set()
        frontier = {key.group_kind for key, live, _, _ in managed if live is not None}
        while frontier:
            kinds = {child for parent in frontier for child in CHILD_KINDS.get(parent, ())} - wanted
            wanted |= kinds
            frontier = kinds
        found: list[Manifest] = []
        for group_kind in sorted(wanted):
            for namespace in sorted(namespaces):
                found += self._list(group_kind, namespace or None)
        return found

    def _events(self, namespaces: set[str]) -> list[Manifest]:
        if not self.events:
            return []
        found: list[Manifest] = []
        for namespace in sorted(n for n in namespaces if n):
            found += self._list(_EVENT, namespace)
        return found

    @staticmethod
    def _events_by_uid(events: list[Manifest]) -> dict[str, tuple[KubeEvent, ...]]:
        grouped: dict[str, list[Manifest]] = defaultdict(list)
        for event in events:
            uid = str((event.get("involvedObject") or event.get("regarding") or {}).get("uid") or "")
            if uid:
                grouped[uid].append(event)
        return {
            uid: tuple(_kube_event(e) for e in sorted(found, key=_event_time, reverse=True)[:EVENTS_PER_NODE])
            for uid, found in grouped.items()
        }

    def _children(
        self,
        parent: Manifest,
        by_owner: Mapping[str, list[Manifest]],
        claims: list[Manifest],
        events: Mapping[str, tuple[KubeEvent, ...]],
        *,
        seen: set[str],
    ) -> tuple[TreeNode, ...]:
        uid = _uid(parent)
        if not uid or uid in seen:
            return ()  # an ownership cycle, which a broken controller can write
        seen = seen | {uid}
        children = list(by_owner.get(uid, ()))
        if ResourceKey.from_manifest(parent).group_kind == _STATEFULSET:
            children += [c for c in _statefulset_claims(parent, claims) if uid not in _owner_uids(c)]
        nodes = [
            TreeNode(
                key=ResourceKey.from_manifest(child),
                health=assess(child, self.checks),
                managed=False,
                events=events.get(_uid(child), ()),
                children=self._children(child, by_owner, claims, events, seen=seen),
            )
            for child in children
        ]
        return tuple(self._bounded(nodes))

    def _bounded(self, nodes: list[TreeNode]) -> list[TreeNode]:
        """At most ``max_children`` nodes of each kind, troubled first; the rest summed up in one node."""
        by_kind: dict[str, list[TreeNode]] = defaultdict(list)
        for node in nodes:
            by_kind[node.kind].append(node)
        kept: list[TreeNode] = []
        for kind, group in by_kind.items():
            group.sort(key=lambda n: (_SEVERITY.get(n.health.status, 6) if n.health else 6, _order(n)))
            kept += group[: self.max_children]
            rest = group[self.max_children :]
            if rest:
                counts = Counter(str(n.health.status) if n.health is not None else "no verdict" for n in rest)
                words = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
                rest_health = _worst(n.health for n in rest)
                kept.append(
                    TreeNode(
                        key=None,
                        kind=kind,
                        name=f"{len(rest)} more",
                        health=rest_health,
                        managed=False,
                        summary=f"{len(rest)} more {kind} objects: {words}",
                        hidden=len(rest),
                    )
                )
        return sorted(kept, key=_order)


def _worst(verdicts: Iterable[Health | None]) -> Health | None:
    """The worst of the verdicts given, in the reference's order; ``None`` when none was given."""
    statuses = [v.status for v in verdicts if v is not None]
    return Health(worst(statuses)) if statuses else None


def _statefulset_claims(statefulset: Manifest, claims: list[Manifest]) -> list[Manifest]:
    """The volume claims a StatefulSet's controller made: ``<template>-<statefulset>-<ordinal>`` in its namespace."""
    metadata = statefulset.get("metadata") or {}
    name, namespace = metadata.get("name"), metadata.get("namespace")
    templates = [
        (t.get("metadata") or {}).get("name") for t in (statefulset.get("spec") or {}).get("volumeClaimTemplates") or []
    ]
    prefixes = tuple(f"{template}-{name}-" for template in templates if template)
    found = []
    for claim in claims:
        meta = claim.get("metadata") or {}
        claim_name = str(meta.get("name") or "")
        if meta.get("namespace") != namespace or not prefixes:
            continue
        if any(claim_name.startswith(p) and claim_name[len(p) :].isdigit() for p in prefixes):
            found.append(claim)
    return found
