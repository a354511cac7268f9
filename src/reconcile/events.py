"""What happens during a pass and a sync, as frozen event objects handed to the host's callback.

A host gives one callback (any ``callable(event)``, the :class:`~reconcile.protocols.EventSink` protocol) when it
builds a :class:`~reconcile.Reconciler` (``on_event=``) or a :class:`~reconcile.sync.SyncOperation`; nothing is
registered globally. Events arrive on the thread that drives the pass, in this order for a pass that syncs::

    DriftDetected -> SyncStarted -> WaveStarted -> TaskApplied... -> WaveFinished -> ... -> SyncFinished
    -> HealthChanged... -> PassFinished

with :class:`OperationFailed` when a stage or the sync failed. A callback that raises is logged
(``reconcile.event.callback_failed``) and never breaks the sync; a slow callback slows the pass, so hand long
work to another thread. Events carry results, never raw objects: the diff inside :class:`DriftDetected` masks
Secret values as every diff does, and a :class:`TaskApplied` result keeps the stored object out of its repr.

Metrics are a callback away: count :class:`SyncFinished` by phase, observe :class:`PassFinished` durations
(``examples/metrics.py`` does it with ``prometheus_client``).
"""

from __future__ import annotations

import attrs

from reconcile.diff import DiffResult
from reconcile.errors import ReconcileError
from reconcile.model import Health, ResourceKey, Revision
from reconcile.results import ReconcileResult
from reconcile.sync import (
    Event,
    EventEmitter,
    SyncFinished,
    SyncResult,
    SyncStarted,
    TaskApplied,
    WaveFinished,
    WaveStarted,
)

__all__ = [
    "DriftDetected",
    "Event",
    "EventEmitter",
    "HealthChanged",
    "OperationFailed",
    "PassFinished",
    "SyncFinished",
    "SyncStarted",
    "TaskApplied",
    "WaveFinished",
    "WaveStarted",
]


@attrs.frozen(kw_only=True)
class DriftDetected(Event):
    """A pass found live state out of sync with Git, and the drift differs from what the last pass found.

    The same drift found again by the next pass is not reported again; drift that goes away and comes back is.

    Attributes:
        revision: The revision compared.
        diff: The comparison (Secret values masked).
        keys: The objects out of sync.
    """

    revision: Revision | None
    diff: DiffResult = attrs.field(repr=False)
    keys: tuple[ResourceKey, ...] = ()


@attrs.frozen(kw_only=True)
class HealthChanged(Event):
    """The health of the application (``key`` is ``None``) or of one of its objects changed between passes.

    Attributes:
        key: The object, or ``None`` for the application as a whole.
        old: The verdict of the previous pass (``None`` on the first pass, or when the object was not live).
        new: The verdict now (``None`` when the object is gone or no check applies).
    """

    key: ResourceKey | None
    old: Health | None
    new: Health | None

    @property
    def message(self) -> str:
        """The new verdict's message."""
        return self.new.message if self.new is not None else ""


@attrs.frozen(kw_only=True)
class OperationFailed(Event):
    """A pass or a sync failed: a stage raised (``error``) or the sync operation failed (``result``).

    Attributes:
        message: What failed, in one line.
        error: The typed error of the stage that failed, if one did.
        result: The failed sync's result, if a sync ran.
    """

    message: str
    error: ReconcileError | None = None
    result: SyncResult | None = None


@attrs.frozen(kw_only=True)
class PassFinished(Event):
    """One :meth:`~reconcile.Reconciler.reconcile` pass ended.

    Attributes:
        result: What the pass found and did (its duration, sync status, health).
    """

    result: ReconcileResult = attrs.field(repr=False)
