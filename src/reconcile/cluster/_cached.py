"""A cluster whose reads come from a live cache, for hosts that reconcile again and again.

``CachedCluster`` wraps a cluster that can list with a resourceVersion and watch (:class:`KubernetesCluster`).
The first time a kind is read, an :class:`~reconcile.cluster._informer.Informer` starts for it (one LIST, then a
watch); from then on reads of that kind make no API call, so a reconcile pass that changes nothing costs nothing.
Writes go to the server and their answers are recorded in the cache, so a read right after a write sees it.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reconcile.cluster._informer import Informer, Listener
from reconcile.model import Capabilities, GroupKind, Manifest, PropagationPolicy, ResourceKey
from reconcile.protocols import SelectingCluster, WatchableCluster


class CachedCluster:
    """Serves reads from watch-fed caches, one per kind read so far; use it as a context manager.

    Args:
        inner: The cluster to read through and write to.
        sync_timeout: How long the first read of a kind waits for its cache to be listed.
        watch_timeout: How long one watch request lasts before it is renewed; also how long a stopped watch may
            linger in its daemon thread.
        logger: A structlog-style logger for the informers.
    """

    def __init__(
        self,
        inner: WatchableCluster,
        *,
        sync_timeout: float = 30.0,
        watch_timeout: float = 60.0,
        logger: Any = None,
    ) -> None:
        self.inner = inner
        self._sync_timeout = sync_timeout
        self._watch_timeout = watch_timeout
        self._logger = logger
        self._informers: dict[GroupKind, Informer] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def __enter__(self) -> CachedCluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every watch."""
        with self._lock:
            informers, self._informers = list(self._informers.values()), {}
        for informer in informers:
            informer.stop()

    def add_listener(self, listener: Listener) -> None:
        """Tell ``listener(event_type, obj)`` of every change the watches deliver, for the kinds cached now and later.

        Called on the watches' threads, only for news (not for the answers of this cluster's own writes that the
        cache already holds); :func:`reconcile.watching.watch` uses it to run an app's pass when its objects change.
        """
        with self._lock:
            self._listeners.append(listener)
            informers = list(self._informers.values())
        for informer in informers:
            informer.add_listener(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop telling ``listener``."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)
            informers = list(self._informers.values())
        for informer in informers:
            informer.remove_listener(listener)

    def cache(self, group_kinds: Iterable[GroupKind]) -> tuple[GroupKind, ...]:
        """Start caching these kinds now (one LIST each, then a watch), rather than at their first read.

        A host that reacts to changes (:func:`reconcile.watching.watch`) wants the watches of an app's kinds as soon
        as its first pass named them: that pass lists every kind from the server. Kinds the server does not serve
        are skipped; returns the kinds cached now.
        """
        for group_kind in sorted(set(group_kinds) - set(self._informers)):
            if self.inner.is_namespaced(group_kind) is not None:
                self._informer(group_kind)
        return self.cached_kinds

    @property
    def cached_kinds(self) -> tuple[GroupKind, ...]:
        """The kinds served from the cache."""
        return tuple(sorted(self._informers))

    def _informer(self, group_kind: GroupKind) -> Informer:
        with self._lock:
            informer = self._informers.get(group_kind)
            if informer is None:
                # Listing first, outside the informer, surfaces an unknown kind as the inner cluster's error.
                informer = Informer(
                    self.inner.list_with_version,
                    self.inner.watch,
                    [group_kind],
                    watch_timeout=self._watch_timeout,
                    logger=self._logger,
                )
                for listener in self._listeners:
                    informer.add_listener(listener)
                self._informers[group_kind] = informer.start(wait=self._sync_timeout)
            return informer

    def capabilities(self) -> Capabilities:
        """The inner cluster's capabilities."""
        return self.inner.capabilities()

    def is_namespaced(self, group_kind: GroupKind) -> bool | None:
        """As the inner cluster says."""
        return self.inner.is_namespaced(group_kind)

    def get(self, key: ResourceKey, *, api_version: str | None = None) -> Manifest | None:
        """From the cache of the key's kind (started on first use); another version from the server."""
        if self.inner.is_namespaced(key.group_kind) is None or api_version is not None:
            return self.inner.get(key, api_version=api_version)  # names an unknown kind; converts versions
        return self._informer(key.group_kind).get(key)

    def list(self, group_kind: GroupKind | None = None, *, namespace: str | None = None) -> list[Manifest]:
        """One kind from its cache; every kind (``None``) straight from the server, as that is rare."""
        if group_kind is None or self.inner.is_namespaced(group_kind) is None:
            return self.inner.list(group_kind, namespace=namespace)
        return self._informer(group_kind).list(group_kind, namespace=namespace)

    def versions(self, group_kind: GroupKind, *, namespace: str | None = None) -> dict[ResourceKey, str]:
        """From the cache of the kind (started on first use): resourceVersions by key, no object copied.

        Raises:
            UnknownKindError: The server does not serve ``group_kind``.
        """
        if self.inner.is_namespaced(group_kind) is None:
            self.inner.list(group_kind)  # names the unknown kind as the server does
            return {}
        return self._informer(group_kind).versions(group_kind, namespace=namespace)

    def select(self, wanted: Callable[[Manifest], bool]) -> builtins.list[Manifest]:
        """The objects of every kind for which ``wanted(obj)`` is true, read from the server (every kind, as rare)."""
        if isinstance(self.inner, SelectingCluster):
            return self.inner.select(wanted)
        return [obj for obj in self.inner.list() if wanted(obj)]

    def _record(self, obj: Manifest, dry_run: bool) -> Manifest:
        informer = self._informers.get(ResourceKey.from_manifest(obj).group_kind)
        if informer is not None and not dry_run:
            informer.record(obj)
        return obj

    def apply(
        self, obj: Manifest, *, field_manager: str = "reconcile", force: bool = False, dry_run: bool = False
    ) -> Manifest:
        """Server-side apply through the inner cluster; the answer is cached."""
        stored = self.inner.apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)
        return self._record(stored, dry_run)

    def create(self, obj: Manifest, *, field_manager: str = "reconcile", dry_run: bool = False) -> Manifest:
        """Create through the inner cluster; the answer is cached."""
        return self._record(self.inner.create(obj, field_manager=field_manager, dry_run=dry_run), dry_run)

    def replace(self, obj: Manifest, *, field_manager: str = "reconcile", dry_run: bool = False) -> Manifest:
        """Replace through the inner cluster; the answer is cached."""
        return self._record(self.inner.replace(obj, field_manager=field_manager, dry_run=dry_run), dry_run)

    def patch(
        self, key: ResourceKey, patch: Mapping[str, Any], *, field_manager: str = "reconcile", dry_run: bool = False
    ) -> Manifest:
        """Merge-patch through the inner cluster; the answer is cached."""
        return self._record(self.inner.patch(key, patch, field_manager=field_manager, dry_run=dry_run), dry_run)

    def delete(self, key: ResourceKey, *, propagation: PropagationPolicy = "Background", dry_run: bool = False) -> None:
        """Delete through the inner cluster; the object leaves the cache (a finalizer's hold comes back by watch)."""
        self.inner.delete(key, propagation=propagation, dry_run=dry_run)
        informer = self._informers.get(key.group_kind)
        if informer is not None and not dry_run:
            informer.forget(key)
