"""Watches: the stream of changes an API server sends to whoever watches a kind.

The server offers each stored change to every open :class:`Watch`; a watch keeps those it was asked for (a kind,
a namespace) in a thread-safe queue, so a reader on another thread sees them in the order they were written.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Literal

import attrs

from reconcile.model import GroupKind, Manifest, ResourceKey

EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@attrs.frozen
class WatchEvent:
    """One change seen by a :class:`Watch`.

    Attributes:
        type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
        object: A copy of the object after the change (for ``DELETED``, its last state).
    """

    type: EventType
    object: Manifest = attrs.field(eq=False, repr=False)

    @property
    def key(self) -> ResourceKey:
        """The key of the object that changed."""
        return ResourceKey.from_manifest(self.object)


class Watch:
    """A thread-safe stream of changes, from :meth:`MemoryCluster.watch` (or :meth:`APIServer.watch`).

    Iterating yields events until the watch is closed or no event arrives for ``timeout`` seconds; :meth:`get`
    waits for one event. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        *,
        group_kind: GroupKind | None,
        namespace: str | None,
        timeout: float,
        on_close: Callable[[Watch], None],
    ) -> None:
        self.group_kind = group_kind
        self.namespace = namespace
        self.timeout = timeout
        self._on_close = on_close
        self._queue: queue.Queue[WatchEvent | None] = queue.Queue()
        self._closed = threading.Event()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed.is_set()

    def _offer(self, event: WatchEvent) -> None:
        key = event.key
        if self.group_kind is not None and key.group_kind != self.group_kind:
            return
        if self.namespace is not None and key.namespace != self.namespace:
            return
        if not self.closed:
            self._queue.put(event)

    def get(self, timeout: float | None = None) -> WatchEvent | None:
        """The next event, waiting up to ``timeout`` seconds (``None``: forever); ``None`` when none came."""
        if self.closed and self._queue.empty():
            return None
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is None:
            self._queue.put(None)  # let every other reader see the end too
        return event

    def __iter__(self) -> Iterator[WatchEvent]:
        while (event := self.get(self.timeout)) is not None:
            yield event

    def close(self) -> None:
        """Stop receiving events; iteration ends once the events already received are read."""
        if not self._closed.is_set():
            self._closed.set()
            self._on_close(self)
            self._queue.put(None)

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
