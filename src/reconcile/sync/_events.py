"""The events of a sync operation (see :mod:`reconcile.events` for all of them) and the emitter that hands them on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs

from reconcile.model import ResourceKey, Revision
from reconcile.sync._result import ResourceResult, SyncResult


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@attrs.frozen(kw_only=True)
class Event:
    """What every event carries.

    Attributes:
        app: The application it is about.
        at: When it happened (UTC).
    """

    app: str
    at: dt.datetime = attrs.field(factory=_now, eq=False)


@attrs.frozen(kw_only=True)
class SyncStarted(Event):
    """A sync operation starts (its dry run of every task comes first).

    Attributes:
        revision: The revision being synced, when known.
        dry_run: Whether nothing will be changed.
        tasks: How many tasks the plan holds (objects to apply or prune, hooks).
    """

    revision: Revision | None = None
    dry_run: bool = False
    tasks: int = 0


@attrs.frozen(kw_only=True)
class WaveStarted(Event):
    """One wave of one phase is about to be written.

    Attributes:
        phase: ``PreSync``, ``Sync``, ``PostSync`` or ``SyncFail``.
        wave: The sync wave.
        keys: The objects and hooks of the wave.
    """

    phase: str
    wave: int
    keys: tuple[ResourceKey, ...] = ()


@attrs.frozen(kw_only=True)
class WaveFinished(Event):
    """A wave ended: written and, when the sync waits for it, healthy; or it failed.

    Attributes:
        phase: The wave's phase.
        wave: The sync wave.
        succeeded: Whether the wave's writes succeeded and its objects and hooks became healthy.
        message: The operation's words when it did not succeed.
    """

    phase: str
    wave: int
    succeeded: bool
    message: str = ""


@attrs.frozen(kw_only=True)
class TaskApplied(Event):
    """One task ran: an object applied or pruned, a hook created, or a hook completed.

    Attributes:
        phase: The task's phase.
        result: What happened to the object (the stored object is kept out of its repr).
    """

    phase: str
    result: ResourceResult

    @property
    def key(self) -> ResourceKey:
        """The object."""
        return self.result.key


@attrs.frozen(kw_only=True)
class SyncFinished(Event):
    """A sync operation ended.

    Attributes:
        result: The operation's result (its phase says whether it succeeded).
    """

    result: SyncResult


class EventEmitter:
    """Hands events to a host's callback; a callback that raises is logged and never breaks the caller.

    Args:
        sink: The host's callback (``None``: events are dropped without being built).
        logger: Where a failing callback is reported (``reconcile.event.callback_failed``).
    """

    def __init__(self, sink: Callable[[Any], None] | None, logger: Any = None) -> None:
        self.sink = sink
        self._log = logger

    def __bool__(self) -> bool:
        return self.sink is not None

    def emit(self, event: Event) -> None:
        """Give ``event`` to the callback, logging what it raises."""
        if self.sink is None:
            return
        try:
            self.sink(event)
        except Exception as exc:  # noqa: BLE001 - a host's callback must never break a sync
            if self._log is not None:
                self._log.warning(
                    "reconcile.event.callback_failed",
                    event_type=type(event).__name__,
                    error=f"{type(exc).__name__}: {exc}",
                )
