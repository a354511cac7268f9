"""What one pass of a Reconciler found and did: the application's and each object's status."""

from __future__ import annotations

import datetime as dt
import html

import attrs

from reconcile.diff import DiffResult
from reconcile.errors import ReconcileError
from reconcile.model import Health, ResourceKey, ResultCode, Revision, SyncAction, SyncStatus, health_html, sync_html
from reconcile.sync import SyncResult
from reconcile.tree import ResourceTree

__all__ = ["ReconcileResult", "ResourceStatus"]


@attrs.frozen(kw_only=True)
class ResourceStatus:
    """One object at the end of a pass.

    Attributes:
        key: The object.
        status: ``Synced`` or ``OutOfSync`` at the end of the pass.
        action: What reconciling it took (when synced in this pass) or takes: create, update, prune, none.
        message: The sync's words for it, or why it is out of sync.
        result: The sync's result code when this pass synced it, else ``None``.
        health: Its health at the end of the pass (``None`` when no check applies or it is not live).
    """

    key: ResourceKey
    status: SyncStatus
    action: SyncAction
    message: str = ""
    result: ResultCode | None = None
    health: Health | None = None


@attrs.frozen(kw_only=True)
class ReconcileResult:
    """What one pass found and did. It never raises: a failed stage is in ``error``.

    Attributes:
        app: The application name.
        sync_status: ``Synced``, ``OutOfSync``, or ``Unknown`` when a stage failed before the comparison.
        revision: The exact revision compared, when the source was fetched.
        resources: Each object's status, sorted by key.
        diff: The comparison made at the start of the pass (what was out of sync).
        sync: The sync operation this pass ran, if any.
        error: The typed error of the stage that failed, if any.
        health: The application's health at the end of the pass: the worst of its objects (``None`` when the
            pass failed before reading the cluster).
        warnings: What a person should know though nothing failed: ``rendered 0 objects from <path>`` (the
            app is Synced and Healthy, as in Argo CD, but holds nothing; a wrong path or tool looks like this).
        tree: The resource tree at the end of the pass, when the Reconciler was built with
            ``resource_tree=True`` (see :meth:`Reconciler.tree`).
    """

    app: str
    sync_status: SyncStatus
    health: Health | None = None
    revision: Revision | None = None
    resources: tuple[ResourceStatus, ...] = ()
    diff: DiffResult | None = None
    sync: SyncResult | None = None
    error: ReconcileError | None = None
    warnings: tuple[str, ...] = ()
    started_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    tree: ResourceTree | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def duration(self) -> dt.timedelta:
        """How long the pass took."""
        return self.finished_at - self.started_at

    @property
    def ok(self) -> bool:
        """Whether the pass ran without error (the app may still be out of sync)."""
        return self.error is None and (self.sync is None or self.sync.succeeded)

    def _rows(self) -> list[tuple[str, ...]]:
        return [
            (
                r.key.kind,
                r.key.namespace or "-",
                r.key.name,
                str(r.status),
                str(r.health.status) if r.health is not None else "-",
                str(r.action),
                r.message,
            )
            for r in self.resources
        ]

    def __str__(self) -> str:
        revision = str(self.revision) if self.revision else "-"
        health = f", {self.health.status}" if self.health is not None else ""
        seconds = self.duration.total_seconds()
        lines = [f"{self.app}: {self.sync_status}{health} at {revision} ({seconds:.2f}s)"]
        if self.health is not None and self.health.message:
            lines.append(f"health: {self.health.message}")
        if self.sync is not None:
            lines.append(f"sync {self.sync.phase}: {self.sync.message}")
        if self.error is not None:
            lines.append(f"error ({type(self.error).__name__}): {self.error}")
        lines += [f"warning: {warning}" for warning in self.warnings]
        header = ("KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "ACTION", "MESSAGE")
        rows = [header, *self._rows()]
        if len(rows) > 1:
            widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
            lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1] for row in rows]
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        health = f", {health_html(self.health)}" if self.health is not None else ""
        head = (
            f"<p><b>{html.escape(self.app)}</b>: <b>{sync_html(self.sync_status)}</b>{health}"
            f" at <code>{html.escape(str(self.revision or '-'))}</code></p>"
        )
        if self.error is not None:
            head += (
                f"<p style='color:#e96d76'>{html.escape(type(self.error).__name__)}: {html.escape(str(self.error))}</p>"
            )
        head += "".join(f"<p style='color:#f4c030'>warning: {html.escape(w)}</p>" for w in self.warnings)
        cells = "".join(
            f"<tr><td>{html.escape(r.key.kind)}</td><td>{html.escape(r.key.namespace or '-')}</td>"
            f"<td>{html.escape(r.key.name)}</td><td>{sync_html(r.status)}</td>"
            f"<td>{health_html(r.health) if r.health is not None else '-'}</td><td>{r.action}</td>"
            f"<td>{html.escape(r.message)}</td></tr>"
            for r in self.resources
        )
        columns = ("kind", "namespace", "name", "status", "health", "action", "message")
        header = "".join(f"<th>{h}</th>" for h in columns)
        tree = f"<details><summary>resource tree</summary>{self.tree._repr_html_()}</details>" if self.tree else ""
        return f"{head}<table><tr>{header}</tr>{cells}</table>{tree}"
