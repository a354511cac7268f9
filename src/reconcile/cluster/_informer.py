"""A live cache of some kinds of objects: list once, then watch from the list's resourceVersion.

A long-running host keeps one open so that a pass that changes nothing makes no API call at all. Each kind has a
thread that lists, then watches from the list's ``resourceVersion``; a watch that expired (HTTP 410 Gone) lists
again, and a broken connection reconnects with bounded exponential backoff and jitter, resuming from the last
``resourceVersion`` seen, so no event is lost. Writes the host makes are recorded as they are answered, so a read
right after a write sees it even before the watch delivers it.

The informer knows nothing of the Kubernetes client: a cluster adapter gives it a ``list`` and a ``watch``
function for a kind.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import structlog

from reconcile.errors import WatchExpiredError
from reconcile.jsonvalues import deep_copy
from reconcile.model import GroupKind, Manifest, ResourceKey

ListFunction = Callable[[GroupKind], tuple[list[Manifest], str]]
"""Lists every object of a kind; returns them with the list's resourceVersion."""

WatchFunction = Callable[[GroupKind, str, float], Iterator[tuple[str, Manifest]]]
"""Watches a kind from a resourceVersion for at most the given seconds; yields (event type, object)."""

Listener = Callable[[str, Manifest], None]
"""Told of each change a watch delivers: the event type (``ADDED``, ``MODIFIED``, ``DELETED``) and the object."""


def _resource_version(obj: Manifest) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class Informer:
    """Keeps a local copy of every object of some kinds.

    Args:
        list_function: Lists a kind (one paginated LIST).
        watch_function: Watches a kind from a resourceVersion.
        group_kinds: The kinds to keep.
        watch_timeout: How long one watch request lasts before it is renewed (seconds).
        backoff: The first reconnect delay after an error (seconds); doubles up to ``max_backoff``.
        max_backoff: The longest reconnect delay.
        logger: A structlog-style logger.
    """

    def __init__(
        self,
        list_function: ListFunction,
        watch_function: WatchFunction,
        group_kinds: Iterable[GroupKind],
        *,
        watch_timeout: float = 300.0,
        backoff: float = 0.2,
        max_backoff: float = 10.0,
        logger: Any = None,
    ) -> None:
        self._list = list_function
        self._watch = watch_function
        self._kinds = tuple(sorted(set(group_kinds)))
        self._watch_timeout = watch_timeout
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._log = logger or structlog.get_logger("reconcile")
        self._lock = threading.Lock()
        self._objects: dict[GroupKind, dict[ResourceKey, Manifest]] = {gk: {} for gk in self._kinds}
        self._synced = {gk: threading.Event() for gk in self._kinds}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listeners: list[Listener] = []
        self.relists = 0
        """How many times a kind was listed again after its first list (expired watches, errors)."""

    @property
    def group_kinds(self) -> tuple[GroupKind, ...]:
        """The kinds this informer keeps."""
        return self._kinds

    def start(self, *, wait: float | None = 30.0) -> Informer:
        """Start one thread per kind; with ``wait``, block until every kind is listed (or the time is up)."""
        for group_kind in self._kinds:
            thread = threading.Thread(
                target=self._run, args=(group_kind,), name=f"reconcile-informer-{group_kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if wait is not None:
            self.wait_synced(wait)
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop every thread, waiting at most ``timeout`` for each.

        A thread blocked in a watch ends at the watch's next event or when the server ends it (``watch_timeout``);
        it is a daemon thread, so it never holds the process open.
        """
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def __enter__(self) -> Informer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait_synced(self, timeout: float = 30.0) -> bool:
        """Whether every kind was listed within ``timeout`` seconds."""
        return all(event.wait(timeout) for event in self._synced.values())

    def has_synced(self, group_kind: GroupKind) -> bool:
        """Whether the kind is kept and its first list has arrived."""
        event = self._synced.get(group_kind)
        return event is not None and event.is_set()

    def get(self, key: ResourceKey) -> Manifest | None:
        """A copy of the cached object, or ``None``."""
        with self._lock:
            obj = self._objects.get(key.group_kind, {}).get(key)
            return deep_copy(obj) if obj is not None else None

    def list(self, group_kind: GroupKind, *, namespace: str | None = None) -> list[Manifest]:
        """Copies of the cached objects of a kind, optionally of one namespace."""
        with self._lock:
            objects = self._objects.get(group_kind, {})
            return [deep_copy(obj) for key, obj in objects.items() if namespace is None or key.namespace == namespace]

    def versions(self, group_kind: GroupKind, *, namespace: str | None = None) -> dict[ResourceKey, str]:
        """The cached objects' resourceVersions by key (optionally of one namespace); no object is copied."""
        with self._lock:
            objects = self._objects.get(group_kind, {})
            return {
                key: str((obj.get("metadata") or {}).get("resourceVersion") or "")
                for key, obj in objects.items()
                if namespace is None or key.namespace == namespace
            }

    def add_listener(self, listener: Listener) -> None:
        """Tell ``listener`` of every change a watch delivers from now on, on the watch's thread.

        Only news is told: a change the cache already holds (the answer of a write recorded with :meth:`record`,
        delivered again by the watch) is not. A listener that raises is logged and kept.
        """
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop telling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def record(self, obj: Manifest) -> None:
        """Remember an object a write just returned, unless the cache already has a newer version."""
        self._put(ResourceKey.from_manifest(obj), obj)

    def forget(self, key: ResourceKey) -> None:
        """Drop an object a delete just removed."""
        with self._lock:
            self._objects.get(key.group_kind, {}).pop(key, None)

    def _put(self, key: ResourceKey, obj: Manifest) -> bool:
        """Keep ``obj`` unless the cache holds a version as new; whether it was news."""
        with self._lock:
            objects = self._objects.get(key.group_kind)
            if objects is None:
                return False
            current = objects.get(key)
            if current is not None and _resource_version(obj) <= _resource_version(current):
                return False
            objects[key] = deep_copy(obj)
            return True

    def _run(self, group_kind: GroupKind) -> None:
        delay = self._backoff
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._relist(group_kind)
                version = self._follow(group_kind, version)
                delay = self._backoff
            except WatchExpiredError:
                self._log.debug("reconcile.informer.expired", group_kind=str(group_kind))
                version = None  # list again, without waiting: nothing is wrong with the server
            except Exception as exc:  # noqa: BLE001 - any failure of a background watch is retried, never raised
                if self._stop.is_set():
                    break  # the connection went with the cluster being closed: not worth a warning
                self._log.warning("reconcile.informer.error", group_kind=str(group_kind), error=str(exc))
                self._stop.wait(random.uniform(0, delay))  # noqa: S311 - jitter, not cryptography
                delay = min(delay * 2, self._max_backoff)

    def _relist(self, group_kind: GroupKind) -> str:
        items, version = self._list(group_kind)
        fresh = {ResourceKey.from_manifest(obj): deep_copy(obj) for obj in items}
        with self._lock:
            self._objects[group_kind] = fresh
        if self._synced[group_kind].is_set():
            self.relists += 1
        self._synced[group_kind].set()
        return version

    def _follow(self, group_kind: GroupKind, version: str) -> str:
        """Apply watch events until the watch ends; returns the last resourceVersion seen."""
        for event_type, obj in self._watch(group_kind, version, self._watch_timeout):
            if self._stop.is_set():
                break
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            key = ResourceKey.from_manifest(obj)
            if event_type == "DELETED":
                with self._lock:
                    news = self._objects.get(key.group_kind, {}).pop(key, None) is not None
            elif event_type in ("ADDED", "MODIFIED"):
                news = self._put(key, obj)
            else:
                continue
            if news:
                self._tell(event_type, obj)
        return version

    def _tell(self, event_type: str, obj: Manifest) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event_type, obj)
            except Exception as exc:  # noqa: BLE001 - a listener's failure must not stop the watch
                self._log.warning("reconcile.informer.listener_failed", error=f"{type(exc).__name__}: {exc}")
