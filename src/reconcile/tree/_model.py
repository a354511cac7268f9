"""The resource tree's values: nodes, the Kubernetes Events about them, and the tree with its pictures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import attrs

from reconcile.model import Health, HealthStatus, ResourceKey, SyncStatus


@attrs.frozen(kw_only=True)
class KubeEvent:
    """One Kubernetes Event about a node (what ``kubectl describe`` lists at the bottom).

    Attributes:
        type: ``Normal`` or ``Warning``.
        reason: The controller's one-word reason (``FailedScheduling``, ``ScalingReplicaSet``).
        message: The controller's words.
        count: How many times it happened.
        last_seen: When it last happened (RFC 3339, as the server wrote it).
    """

    type: str
    reason: str
    message: str
    count: int = 1
    last_seen: str = ""

    @property
    def warning(self) -> bool:
        """Whether it is a ``Warning``."""
        return self.type == "Warning"

    def describe(self, now: dt.datetime | None = None) -> str:
        """``Warning FailedScheduling (x3, 2m ago): 0/1 nodes are available...``."""
        parts = [f"x{self.count}"] if self.count > 1 else []
        age = _age(self.last_seen, now)
        if age:
            parts.append(f"{age} ago")
        when = f" ({', '.join(parts)})" if parts else ""
        return f"{self.type} {self.reason}{when}: {self.message}"


def _age(timestamp: str, now: dt.datetime | None) -> str:
    """``2m``, ``3h``, ``4d``: kubectl's short ages."""
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    seconds = max(0, int(((now or dt.datetime.now(dt.UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _kind(self: TreeNode) -> str:
    return self.key.kind if self.key is not None else ""


def _name(self: TreeNode) -> str:
    return self.key.name if self.key is not None else ""


@attrs.frozen(kw_only=True)
class TreeNode:
    """One node of a resource tree.

    Attributes:
        key: The object (``None`` for the application itself and for a summary node).
        kind: Its kind (``Application`` for the root).
        name: Its name (``N more`` for a summary node).
        health: Its health (``None``: no check applies, or it is not live).
        sync_status: ``Synced`` or ``OutOfSync`` for the app's own objects; ``None`` for objects they own.
        managed: Whether the app manages it (it is in Git), rather than a controller having made it.
        events: Its most recent Kubernetes Events, newest first.
        children: The objects it owns.
        summary: For a summary node, what it stands for (``490 more Pod objects: 480 Healthy, 10 Progressing``).
        hidden: For a summary node, how many objects it stands for.
    """

    key: ResourceKey | None
    kind: str = attrs.field(default=attrs.Factory(_kind, takes_self=True))
    name: str = attrs.field(default=attrs.Factory(_name, takes_self=True))
    health: Health | None = None
    sync_status: SyncStatus | None = None
    managed: bool = False
    events: tuple[KubeEvent, ...] = ()
    children: tuple[TreeNode, ...] = ()
    summary: str = ""
    hidden: int = 0

    @property
    def namespace(self) -> str:
        """Its namespace (empty for cluster-scoped objects and for the root)."""
        return self.key.namespace if self.key is not None else ""

    @property
    def label(self) -> str:
        """``Kind namespace/name`` (``Kind name`` when cluster-scoped)."""
        if self.key is None:
            return f"{self.kind} {self.name}"
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"

    @property
    def troubled(self) -> bool:
        """Whether its health is Degraded or Missing, or a Warning event is about it."""
        status = self.health.status if self.health is not None else None
        return status in (HealthStatus.DEGRADED, HealthStatus.MISSING) or any(e.warning for e in self.events)

    def walk(self, depth: int = 0) -> Iterator[tuple[int, TreeNode]]:
        """Every node under this one (this one first), with its depth."""
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)

    def to_dict(self) -> dict[str, Any]:
        """The node as JSON-ready data (``reconcile app tree -o json``)."""
        out: dict[str, Any] = {
            "group": self.key.group if self.key is not None else ("argoproj.io" if self.kind == "Application" else ""),
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "managed": self.managed,
            "health": (
                {"status": str(self.health.status), "message": self.health.message} if self.health is not None else None
            ),
            "syncStatus": str(self.sync_status) if self.sync_status is not None else None,
        }
        if self.summary:
            out["summary"] = self.summary
            out["hidden"] = self.hidden
        if self.events:
            out["events"] = [attrs.asdict(e) for e in self.events]
        out["children"] = [child.to_dict() for child in self.children]
        return out


@attrs.frozen(kw_only=True)
class ResourceTree:
    """An application's objects and the live objects they own, with health, sync status and events.

    ``str(tree)`` draws it with box-drawing characters; in a notebook it is a picture laid out left to right like
    Argo CD's tree view (:meth:`to_svg`); :meth:`to_dict` gives the structure.

    Attributes:
        app: The application.
        root: The application's node; its children are the managed objects, in apply order.
        live_objects: How many live objects the tree was built from (before summary nodes).
    """

    app: str
    root: TreeNode
    live_objects: int = 0

    def nodes(self) -> Iterator[TreeNode]:
        """Every node, depth first, the root first."""
        for _, node in self.root.walk():
            yield node

    def find(self, key: ResourceKey) -> TreeNode | None:
        """The node of ``key``, or ``None``."""
        return next((node for node in self.nodes() if node.key == key), None)

    def troubled(self) -> tuple[TreeNode, ...]:
        """The nodes a person should look at: Degraded or Missing, or with a Warning event (the root excluded)."""
        return tuple(node for node in self.nodes() if node.key is not None and node.troubled)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the root node with its children."""
        return self.root.to_dict()

    def render_text(self, *, color: bool = False, events: bool = True, now: dt.datetime | None = None) -> str:
        """The tree drawn with box-drawing characters; with ``color``, health and sync in Argo CD's colours."""
        from reconcile.tree._draw import text  # noqa: PLC0415 - the drawing code is only needed to draw

        return text(self, color=color, events=events, now=now)

    def render_troubles(self, *, color: bool = False, now: dt.datetime | None = None) -> str:
        """The :meth:`troubled` nodes, one line each with the health message, their recent events beneath."""
        from reconcile.tree._draw import troubles  # noqa: PLC0415 - the drawing code is only needed to draw

        return troubles(self, color=color, now=now)

    def to_svg(self) -> str:
        """The tree as an SVG picture, left to right like Argo CD's tree view."""
        from reconcile.tree._draw import svg  # noqa: PLC0415 - the drawing code is only needed to draw

        return svg(self)

    def __str__(self) -> str:
        return self.render_text()

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _repr_html_(self) -> str:
        return f"<div style='overflow-x:auto'>{self.to_svg()}</div>"
