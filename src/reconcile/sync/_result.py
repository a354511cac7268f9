"""What a sync operation did: per-object results and the operation's phase."""

from __future__ import annotations

import datetime as dt
import html

import attrs

from reconcile.errors import SyncError
from reconcile.model import (
    HealthStatus,
    Manifest,
    OperationPhase,
    ResourceKey,
    ResultCode,
    Revision,
    SyncAction,
    SyncStatus,
)

# A result code drawn with the status it amounts to, in Argo CD's colours.
_LOOKS = {
    ResultCode.SYNCED: (SyncStatus.SYNCED.color, SyncStatus.SYNCED.icon),
    ResultCode.PRUNED: (SyncStatus.SYNCED.color, SyncStatus.SYNCED.icon),
    ResultCode.PRUNE_SKIPPED: (SyncStatus.OUT_OF_SYNC.color, SyncStatus.OUT_OF_SYNC.icon),
    ResultCode.SYNC_FAILED: (HealthStatus.DEGRADED.color, HealthStatus.DEGRADED.icon),
}


def _code_html(code: ResultCode) -> str:
    color, icon = _LOOKS[code]
    return f"<span style='color:{color}'>{icon} {code}</span>"


@attrs.frozen(kw_only=True)
class ResourceResult:
    """The outcome of one sync task.

    Attributes:
        key: The object.
        status: Argo CD's result code: ``Synced``, ``SyncFailed``, ``Pruned`` or ``PruneSkipped``.
        action: What the task set out to do.
        message: kubectl-style words (``deployment.apps/web configured``), the reference's prune messages
            (``pruned``, ``ignored (requires pruning)``), or the API's error.
        stored: The object as the server stored it, when this task applied it.
    """

    key: ResourceKey
    status: ResultCode
    action: SyncAction
    message: str = ""
    stored: Manifest | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def succeeded(self) -> bool:
        """Whether the task did what it set out to do (or skipped it on purpose)."""
        return self.status is not ResultCode.SYNC_FAILED


@attrs.frozen(kw_only=True)
class SyncResult:
    """The outcome of one sync operation.

    Attributes:
        phase: ``Succeeded`` when every task succeeded, else ``Failed``.
        message: One line for people (the reference's wording where it has one).
        resources: Each task's result, in the order the tasks ran.
        revision: The revision that was synced, when known.
        dry_run: Whether this was a dry run (nothing was changed).
    """

    phase: OperationPhase
    message: str
    resources: tuple[ResourceResult, ...] = ()
    revision: Revision | None = None
    dry_run: bool = False
    started_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))
    finished_at: dt.datetime = attrs.field(factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def succeeded(self) -> bool:
        """Whether the operation succeeded."""
        return self.phase is OperationPhase.SUCCEEDED

    @property
    def stored(self) -> dict[ResourceKey, Manifest]:
        """The objects this operation applied, as the server stored them."""
        return {r.key: r.stored for r in self.resources if r.stored is not None}

    @property
    def failed_resources(self) -> tuple[ResourceResult, ...]:
        """Results of the tasks that failed."""
        return tuple(r for r in self.resources if not r.succeeded)

    def raise_for_status(self) -> SyncResult:
        """Return ``self`` when the operation succeeded, else raise :class:`SyncError` carrying this result."""
        if self.succeeded:
            return self
        failures = "; ".join(f"{r.key}: {r.message}" for r in self.failed_resources)
        raise SyncError(f"{self.message}: {failures}" if failures else self.message, result=self)

    def __str__(self) -> str:
        head = f"sync {self.phase}{' (dry run)' if self.dry_run else ''}: {self.message}"
        lines = [head] + [f"  {r.status:<12} {r.key}  {r.message}" for r in self.resources]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(r.key))}</td><td>{_code_html(r.status)}</td><td>{r.action}</td>"
            f"<td>{html.escape(r.message)}</td></tr>"
            for r in self.resources
        )
        return (
            f"<p><b style='color:{_LOOKS[ResultCode.SYNCED if self.succeeded else ResultCode.SYNC_FAILED][0]}'>"
            f"sync {self.phase}</b>{' (dry run)' if self.dry_run else ''}: {html.escape(self.message)}</p>"
            f"<table><tr><th>object</th><th>result</th><th>action</th><th>message</th></tr>{rows}</table>"
        )
