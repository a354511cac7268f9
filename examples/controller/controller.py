"""A small Argo CD-style controller built on reconcile: Applications in, live objects and status out.

It watches ``argoproj.io/v1alpha1`` Application objects in one namespace (install ``crd.yaml`` first), reconciles
each through :class:`reconcile.Application` every ``--interval`` seconds and whenever its spec changes, runs the
sync an Application's ``operation`` field asks for (what ``argocd app sync`` writes), and writes the outcome back
into the Application's status in Argo CD's shape. Replicas compete for a Lease, so only
one acts at a time; ``--shards N --shard I`` splits the Applications among N Leases by a stable hash. SIGTERM or
SIGINT stops it cleanly: the watch ends, the pass in progress finishes, the Lease is released, exit status 0::

    kubectl apply -f examples/controller/crd.yaml
    python examples/controller/controller.py --kubeconfig ~/.kube/config --namespace argocd --interval 30

Three threads: the main one reconciles (one Application at a time, from a queue of due times); one follows the
watch and queues Applications whose spec changed; one renews the Lease. A pass runs only while the Lease is held.
The Applications' objects are read from a live cache (``CachedCluster``) whose watches also queue an Application
within ``--debounce`` seconds when one of its objects changes, so a self-healing app undoes a ``kubectl edit`` in
about a second rather than at the next interval. The passes' events (``reconcile.events``) feed the statistics
and the log.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import types
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import structlog

import reconcile as rc
from reconcile import GroupKind, ReconcileError, ResourceKey, events
from reconcile.argocd import tracking
from reconcile.cluster import CachedCluster
from reconcile.errors import WatchExpiredError
from reconcile.model import Manifest

if TYPE_CHECKING:
    from reconcile.cluster import KubernetesCluster

# The sibling modules: beside this file, on sys.path when run as a script (tests put the folder there).
import leader
import sharding
import status

APPLICATION = GroupKind("argoproj.io", "Application")
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"  # set by users (or argocd app get --refresh) to ask for a pass
# On an Application, asks that deleting it first deletes the objects it owns (Argo CD's cascading deletion).
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
DEFAULT_LEASE = "reconcile-controller"


class WorkQueue:
    """Application keys with the time each is due; a key queued twice keeps its earlier time."""

    def __init__(self) -> None:
        self._due: dict[ResourceKey, float] = {}
        self._changed = threading.Condition()

    def __len__(self) -> int:
        with self._changed:
            return len(self._due)

    def __contains__(self, key: object) -> bool:
        with self._changed:
            return key in self._due

    def add(self, key: ResourceKey, delay: float = 0.0) -> None:
        """Queue ``key`` to be due in ``delay`` seconds (sooner if it is already due sooner)."""
        when = time.monotonic() + delay
        with self._changed:
            if when < self._due.get(key, float("inf")):
                self._due[key] = when
                self._changed.notify_all()

    def pop(self, timeout: float) -> ResourceKey | None:
        """The key due first, once it is due; ``None`` when none is due within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = time.monotonic()
                if self._due:
                    key, when = min(self._due.items(), key=lambda item: item[1])
                    if when <= now:
                        del self._due[key]
                        return key
                    wake = min(when, deadline)
                else:
                    wake = deadline
                if now >= deadline:
                    return None
                self._changed.wait(wake - now)

    def wake(self) -> None:
        """Wake a waiting :meth:`pop` (to notice a stop)."""
        with self._changed:
            self._changed.notify_all()


class Stats:
    """What a controller did, for tests and metrics: passes, syncs, status writes, in total and per Application.

    ``syncs``, ``health_changes`` and ``live_triggers`` are counted from the passes' events and the live cache's
    changes; they are keyed by the name objects are tracked by (Argo CD's instance name).
    """

    def __init__(self) -> None:
        self.passes: Counter[str] = Counter()
        self.status_writes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.syncs: Counter[str] = Counter()
        self.health_changes: Counter[str] = Counter()
        self.live_triggers: Counter[str] = Counter()

    def __repr__(self) -> str:
        passes, writes = sum(self.passes.values()), sum(self.status_writes.values())
        return f"Stats(passes={passes}, status_writes={writes}, errors={sum(self.errors.values())})"


class Controller:
    """Reconciles the Applications of one namespace (and one shard) while it holds the shard's Lease.

    Args:
        cluster: The API server holding the Applications, the Lease, and the Applications' objects (the
            destination ``in-cluster``).
        namespace: Where the Applications and the Lease are.
        interval: Seconds between two passes of one Application when nothing changes.
        shard: This replica's part of the Applications.
        identity: This replica's name in the Lease (default: host name and a random suffix).
        lease_name: The Lease's name for shard 0 of 1 (other shards add ``-shard-I-of-N``).
        lease_duration: Seconds the Lease lasts without renewal: how long a crashed leader's shard waits.
        renew_period: Seconds between Lease renewals (default a quarter of ``lease_duration``).
        watch_timeout: Seconds one watch request lasts before it is renewed.
        debounce: Seconds from a change of an Application's live object to its pass (a burst makes one pass).
        cache_dir: Where Git clones are kept (default: a temporary folder, removed at the end of :meth:`run`).
        logger: A structlog-style logger.
    """

    def __init__(
        self,
        cluster: KubernetesCluster,
        *,
        namespace: str,
        interval: float = 180.0,
        shard: sharding.Shard | None = None,
        identity: str | None = None,
        lease_name: str = DEFAULT_LEASE,
        lease_duration: float = 15.0,
        renew_period: float | None = None,
        watch_timeout: float = 60.0,
        debounce: float = 0.2,
        cache_dir: str | os.PathLike[str] | None = None,
        logger: Any = None,
    ) -> None:
        self.cluster = cluster
        self.debounce = debounce
        self.namespace = namespace
        self.interval = interval
        self.shard = shard or sharding.Shard()
        self.identity = identity or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.watch_timeout = watch_timeout
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._log = (logger or structlog.get_logger("reconcile")).bind(controller=self.identity, shard=str(self.shard))
        self.elector = leader.LeaderElector(
            cluster,
            name=self.shard.lease_name(lease_name),
            namespace=namespace,
            identity=self.identity,
            lease_duration=lease_duration,
            renew_period=renew_period,
            logger=self._log,
        )
        self.stats = Stats()
        self.queue = WorkQueue()
        # The Applications' objects, read from watch-fed caches; writes go through to the server.
        self.live = CachedCluster(cluster, watch_timeout=watch_timeout, logger=self._log)
        self._apps: dict[ResourceKey, Manifest] = {}  # this shard's Applications, as last seen
        self._apps_lock = threading.Lock()
        self._reconcilers: dict[ResourceKey, tuple[str, rc.Reconciler]] = {}  # by spec digest; main thread only
        self._stop = threading.Event()
        self._release = True
        self._thread: threading.Thread | None = None

    # --- running ---

    def run(self) -> None:
        """Run until :meth:`request_stop` (or :meth:`stop`); then release the Lease and return."""
        lease_stop = threading.Event()
        lease = threading.Thread(
            target=self.elector.run, args=(lease_stop,), kwargs={"release": lambda: self._release}, daemon=True
        )
        watch = threading.Thread(target=self._follow, name=f"controller-watch-{self.identity}", daemon=True)
        cache_dir = self._cache_dir or Path(tempfile.mkdtemp(prefix="reconcile-controller-"))
        self._log.info("reconcile.controller.started", namespace=self.namespace, lease=self.elector.key.name)
        lease.start()
        watch.start()
        self.live.add_listener(self._live_change)
        try:
            self._work(cache_dir)
        finally:
            self._stop.set()
            self.live.remove_listener(self._live_change)
            self.live.close()
            lease_stop.set()
            lease.join()  # it releases the Lease on its way out, after the last pass ended
            watch.join(0.5)  # a watch blocked on the network ends at its timeout; it is a daemon thread
            if self._cache_dir is None:
                shutil.rmtree(cache_dir, ignore_errors=True)
            self._log.info("reconcile.controller.stopped", stats=repr(self.stats))

    def request_stop(self, *, release: bool = True) -> None:
        """Ask :meth:`run` to stop after the pass in progress; safe from a signal handler."""
        self._release = release
        self._stop.set()
        self.queue.wake()

    def start(self) -> Controller:
        """Run in a background thread (for tests, or a host that does more than this)."""
        self._thread = threading.Thread(target=self.run, name=f"controller-{self.identity}", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, release: bool = True, timeout: float = 30.0) -> None:
        """Stop and wait for :meth:`run` to return; ``release=False`` leaves the Lease held, as a crash would."""
        self.request_stop(release=release)
        self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread :meth:`start` started to end; returns whether it ended.

        It waits in short steps, so that the main thread still handles signals meanwhile.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._thread is not None and self._thread.is_alive():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._thread.join(0.2)
        return True

    # --- the work loop (main thread) ---

    def _work(self, cache_dir: Path) -> None:
        while not self._stop.is_set():
            if not self.elector.is_leader():
                self._stop.wait(min(0.2, self.elector.renew_period))
                continue
            key = self.queue.pop(timeout=0.5)
            if key is None:
                continue
            if self._stop.is_set() or not self.elector.is_leader():
                self.queue.add(key)  # stopping, or lost the Lease meanwhile: whoever leads next takes it
                continue
            try:
                self._process(key, cache_dir)
            except Exception as exc:  # noqa: BLE001 - one Application's failure must not stop the others
                self.stats.errors[key.name] += 1
                self._log.exception("reconcile.controller.failed", app=key.name, error=str(exc))
                self.queue.add(key, min(self.interval, 5.0 * random.uniform(1, 2)))  # noqa: S311 - jitter

    def _process(self, key: ResourceKey, cache_dir: Path) -> None:
        with self._apps_lock:
            obj = self._apps.get(key)
        if obj is None:  # deleted, or moved to another shard: forget its reconciler and its caches
            self._reconcilers.pop(key, None)
            return
        now = dt.datetime.now(dt.UTC)
        previous = obj.get("status") or {}
        spec = obj.get("spec") or {}
        try:
            reconciler = self._reconciler(key, obj, cache_dir)
        except ReconcileError as exc:
            if _being_deleted(obj):
                self._release_app(key, obj)  # cannot tell what it owns: let the deletion finish rather than hang
                return
            self._log.warning("reconcile.controller.invalid", app=key.name, error=str(exc))
            self._write_status(key, obj, status.error_status(str(exc), previous=previous, now=now))
            self.queue.add(key, self.interval)
            return
        if _being_deleted(obj):
            self._cascade(key, obj, reconciler)
            return
        requested = _requested_sync(obj)
        manual = None
        if requested is not None:
            # Argo CD's operation field: someone asked for a sync (`argocd app sync` writes it). Run it as asked,
            # then the pass reports it, and the request is cleared with the status.
            manual = reconciler.sync(prune=bool(requested.get("prune", False)), dry_run=bool(requested.get("dryRun")))
        result = reconciler.reconcile()
        try:
            self.live.cache(r.key.group_kind for r in result.resources)  # watch its kinds from the first pass on
        except ReconcileError as exc:
            self._log.warning("reconcile.controller.unwatched", app=key.name, error=str(exc))
        if manual is not None and result.sync is None:
            result = attrs.evolve(result, sync=manual)
        self.stats.passes[key.name] += 1
        new = status.app_status(result, spec=spec, previous=previous, now=now)
        self._write_status(key, obj, new, clear_operation=requested is not None)
        self.queue.add(key, self.interval)

    def _reconciler(self, key: ResourceKey, obj: Manifest, cache_dir: Path) -> rc.Reconciler:
        """The Application's Reconciler: the same one while its spec is unchanged (render caches, last sync)."""
        digest = _spec_digest(obj)
        known = self._reconcilers.get(key)
        if known is not None and known[0] == digest:
            return known[1]
        app = rc.Application.parse({name: value for name, value in obj.items() if name != "operation"})
        # Applications of one name in two namespaces are two applications: outside Argo CD's own namespace
        # (``argocd``) objects are tracked by ``<namespace>_<name>``, as Argo CD does. The namespace this controller
        # watches is not taken as the control plane's: two controllers watching two namespaces of one cluster
        # would then track two Applications named ``web`` alike, and prune each other's objects.
        reconciler = app.reconciler(clusters={"in-cluster": self.live}, cache_dir=cache_dir, on_event=self._event)
        self._reconcilers[key] = (digest, reconciler)
        return reconciler

    def _cascade(self, key: ResourceKey, obj: Manifest, reconciler: rc.Reconciler) -> None:
        """Delete what the Application owns, then let its own deletion finish; retried until every object goes."""
        result = reconciler.delete()
        # As Argo CD's resources finalizer: the Application goes only once its objects are gone, not when their
        # deletion was asked for (a foreground deletion waits for the garbage collector).
        going = [r.key for r in result.resources if r.status is rc.ResultCode.PRUNED and self.cluster.get(r.key)]
        if result.succeeded and not going:
            self._log.info("reconcile.controller.cascaded", app=key.name, message=result.message)
            self._release_app(key, obj)
        elif result.succeeded:
            self._log.info("reconcile.controller.cascading", app=key.name, waiting_for=len(going))
            self.queue.add(key, 0.5)
        else:
            self._log.warning("reconcile.controller.cascade_failed", app=key.name, message=result.message)
            self.queue.add(key, min(self.interval, 5.0))

    def _release_app(self, key: ResourceKey, obj: Manifest) -> None:
        finalizers = [f for f in (obj.get("metadata") or {}).get("finalizers") or [] if f != RESOURCES_FINALIZER]
        with contextlib.suppress(rc.errors.NotFoundError):
            self.cluster.patch(key, {"metadata": {"finalizers": finalizers or None}})
        self._reconcilers.pop(key, None)

    def _write_status(
        self, key: ResourceKey, obj: Manifest, new: Mapping[str, Any], *, clear_operation: bool = False
    ) -> None:
        """Patch the status when it changed; drop the refresh annotation (and a requested operation) once run."""
        old = obj.get("status") or {}
        body: dict[str, Any] = {}
        if status.changed(old, new):
            body["status"] = status.merge_patch(old, new)
        if clear_operation:
            body["operation"] = None
        if REFRESH_ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {}):
            body["metadata"] = {"annotations": {REFRESH_ANNOTATION: None}}
        if not body:
            return
        stored = self.cluster.patch(key, body)
        if "status" in body:
            self.stats.status_writes[key.name] += 1
        self._remember(stored)  # so the next pass compares with what was written, even before the watch says so

    # --- events and live changes (the pass's thread, the live cache's watch threads) ---

    def _event(self, event: events.Event) -> None:
        """The passes' events: counted, and the app's health changes logged."""
        if isinstance(event, events.SyncFinished) and not event.result.dry_run:
            self.stats.syncs[event.app] += 1
        elif isinstance(event, events.HealthChanged) and event.key is None and event.old is not None:
            self.stats.health_changes[event.app] += 1
            old, new = event.old.status, event.new.status if event.new is not None else None
            self._log.info("reconcile.controller.health_changed", app=event.app, old=str(old), new=str(new))

    def _live_change(self, _event_type: str, obj: Manifest) -> None:
        """An object of the live cache changed: queue the Application that tracks it, after the debounce."""
        owner = tracking.owner(obj)
        if owner is None:
            return
        with self._apps_lock:
            keys = [key for key in self._apps if tracking.instance_name(key.name, key.namespace) == owner]
        for key in keys:
            self.stats.live_triggers[owner] += 1
            self.queue.add(key, self.debounce)

    # --- the watch (its own thread) ---

    def _follow(self) -> None:
        """List, then watch from the list's resourceVersion; list again when the watch expired; back off on errors."""
        version: str | None = None
        delay = 0.2
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._relist()
                for event, obj in self.cluster.watch(
                    APPLICATION, version, self.watch_timeout, namespace=self.namespace
                ):
                    if self._stop.is_set():
                        return
                    version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                    if event == "DELETED":
                        self._forget(obj)
                    elif event in ("ADDED", "MODIFIED"):
                        self._remember(obj)
                delay = 0.2
            except WatchExpiredError:
                version = None
            except Exception as exc:  # noqa: BLE001 - a background watch retries everything, never raises
                if self._stop.is_set():
                    return
                self._log.warning("reconcile.controller.watch.error", error=str(exc))
                self._stop.wait(random.uniform(0, delay))  # noqa: S311 - jitter
                delay = min(delay * 2, 10.0)

    def _relist(self) -> str:
        items, version = self.cluster.list_with_version(APPLICATION, namespace=self.namespace)
        seen = set()
        for obj in items:
            seen.add(self._remember(obj))
        with self._apps_lock:
            gone = [key for key in self._apps if key not in seen]
        for key in gone:
            self._forget_key(key)
        return version

    def _remember(self, obj: Manifest) -> ResourceKey:
        """Keep the newest copy of an Application of this shard; queue it when its spec (or refresh) changed."""
        key = ResourceKey.from_manifest(obj)
        if not self.shard.owns(key.namespace, key.name):
            return key
        with self._apps_lock:
            old = self._apps.get(key)
            if old is not None and _resource_version(obj) < _resource_version(old):
                return key  # an older copy (a watch event behind our own write)
            self._apps[key] = obj
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        wanted = _requested_sync(obj) is not None or REFRESH_ANNOTATION in annotations or _being_deleted(obj)
        if old is None or _spec_digest(old) != _spec_digest(obj) or wanted:
            self.queue.add(key)
        return key

    def _forget(self, obj: Manifest) -> None:
        self._forget_key(ResourceKey.from_manifest(obj))

    def _forget_key(self, key: ResourceKey) -> None:
        with self._apps_lock:
            known = self._apps.pop(key, None)
        if known is not None:
            self.queue.add(key)  # the work loop drops its reconciler


def _being_deleted(obj: Manifest) -> bool:
    """Whether the Application is being deleted and asks for its objects to go first."""
    metadata = obj.get("metadata") or {}
    return bool(metadata.get("deletionTimestamp")) and RESOURCES_FINALIZER in (metadata.get("finalizers") or [])


def _requested_sync(obj: Manifest) -> dict[str, Any] | None:
    """The sync an Application's ``operation`` asks for (``{prune, dryRun, ...}``), or ``None``."""
    operation = obj.get("operation")
    if not isinstance(operation, dict) or not isinstance(operation.get("sync"), dict):
        return None
    return dict(operation["sync"])


def _spec_digest(obj: Manifest) -> str:
    spec = json.dumps(obj.get("spec") or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(spec.encode()).hexdigest()


def _resource_version(obj: Manifest) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


# --- the command line ---


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; ``--shards``/``--shard`` default to ``$RECONCILE_SHARDS``/``$RECONCILE_SHARD``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, else $KUBECONFIG)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--namespace", default="argocd", help="where the Applications and the Lease are")
    parser.add_argument("--interval", type=float, default=180.0, help="seconds between passes of one app")
    parser.add_argument("--shards", type=int, default=int(os.environ.get("RECONCILE_SHARDS", "1")))
    parser.add_argument(
        "--shard",
        type=sharding.parse_shard,
        default=sharding.parse_shard(os.environ.get("RECONCILE_SHARD", "0")),
        help="this replica's shard, from 0 (a StatefulSet pod name works: its ordinal)",
    )
    parser.add_argument("--identity", help="this replica's name in the Lease (default: host name + random)")
    parser.add_argument("--lease-name", default=DEFAULT_LEASE)
    parser.add_argument("--lease-duration", type=float, default=15.0, help="seconds")
    parser.add_argument("--watch-timeout", type=float, default=60.0, help="seconds one watch request lasts")
    parser.add_argument(
        "--debounce", type=float, default=0.2, help="seconds from a change of an app's live object to its pass"
    )
    parser.add_argument("--cache-dir", help="where Git clones are kept (default: a temporary folder)")
    return parser.parse_args(argv)


def connect(args: argparse.Namespace) -> KubernetesCluster:
    """The cluster the command line names: a kubeconfig, or the pod's service account inside a cluster."""
    if args.kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
        return rc.KubernetesCluster.in_cluster()
    return rc.KubernetesCluster.from_kubeconfig(args.kubeconfig, context=args.context)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the controller until SIGTERM or SIGINT; exit status 0 after a clean stop, 2 on bad arguments."""
    args = parse_args(argv)
    try:
        shard = sharding.Shard(args.shard, args.shards)
    except ValueError as exc:
        print(f"controller: {exc}", file=sys.stderr)
        return 2
    with connect(args) as cluster:
        controller = Controller(
            cluster,
            namespace=args.namespace,
            interval=args.interval,
            shard=shard,
            identity=args.identity,
            lease_name=args.lease_name,
            lease_duration=args.lease_duration,
            watch_timeout=args.watch_timeout,
            debounce=args.debounce,
            cache_dir=args.cache_dir,
        )

        def on_signal(_signum: int, _frame: types.FrameType | None) -> None:
            # The handler runs on the main thread, which only waits: the work thread owns the locks it touches.
            controller.request_stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        controller.start().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
