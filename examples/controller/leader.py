"""Leader election on a ``coordination.k8s.io/v1`` Lease, through the library's Cluster API.

The same protocol as client-go's ``leaderelection`` package, written small:

- No Lease yet: create it naming us (a create is atomic: of two replicas, one gets ``AlreadyExists``).
- The Lease names us: renew it, replacing it with the ``resourceVersion`` we read as a precondition, so a replica
  that read an older version loses with a ``ConflictError`` instead of overwriting a newer holder.
- It names someone else: wait until ``renewTime + leaseDurationSeconds`` has passed (the holder stopped renewing),
  or until it names nobody (the holder released it), then take it over the same way.
- On shutdown the holder releases it: no holder and a one-second duration, so a standby takes over at once.

A leader that cannot renew stops acting as leader after ``renew_deadline`` (shorter than the lease duration), so
it stops before anyone may take over.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from reconcile import ClusterError, GroupKind, ResourceKey
from reconcile.errors import ConflictError, NotFoundError
from reconcile.model import Manifest
from reconcile.protocols import Cluster

LEASE = GroupKind("coordination.k8s.io", "Lease")
_API_VERSION = "coordination.k8s.io/v1"


def format_micro_time(moment: dt.datetime) -> str:
    """A time as the API server's ``MicroTime``: ``2024-05-01T12:00:00.000000Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: object) -> dt.datetime | None:
    """A ``MicroTime`` or RFC 3339 time, or ``None`` when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


class LeaderElector:
    """Competes for one Lease; :meth:`is_leader` says whether this replica may act now.

    Args:
        cluster: Where the Lease lives.
        name: The Lease's name.
        namespace: The Lease's namespace.
        identity: This replica's name in ``holderIdentity``; unique among the replicas.
        lease_duration: Seconds a holder keeps the Lease without renewing (whole seconds, at least 1).
        renew_period: Seconds between two attempts to acquire or renew (default a quarter of the duration).
        renew_deadline: Seconds after the last successful renewal until this replica stops acting as leader
            (default two thirds of the duration); must be shorter than the duration.
        clock: The wall clock, for the times written into the Lease.
        logger: A structlog-style logger.
    """

    def __init__(
        self,
        cluster: Cluster,
        *,
        name: str,
        namespace: str,
        identity: str,
        lease_duration: float = 15.0,
        renew_period: float | None = None,
        renew_deadline: float | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        logger: Any = None,
    ) -> None:
        self.cluster = cluster
        self.key = ResourceKey(LEASE.group, LEASE.kind, namespace, name)
        self.identity = identity
        self.lease_duration = max(1, round(lease_duration))
        self.renew_period = renew_period if renew_period is not None else self.lease_duration / 4
        self.renew_deadline = renew_deadline if renew_deadline is not None else self.lease_duration * 2 / 3
        if not 0 < self.renew_period < self.renew_deadline < self.lease_duration:
            raise ValueError("leader election needs 0 < renew_period < renew_deadline < lease_duration")
        self._clock = clock
        self._log = (logger or structlog.get_logger("reconcile")).bind(lease=name, identity=identity)
        self._renewed_at: float | None = None  # monotonic time of the last successful acquire or renew
        self._lock = threading.Lock()
        self.transitions = 0
        """How many times this replica became leader."""

    def is_leader(self) -> bool:
        """Whether this replica holds the Lease and renewed it within ``renew_deadline``."""
        with self._lock:
            renewed = self._renewed_at
        return renewed is not None and time.monotonic() - renewed < self.renew_deadline

    def holder(self) -> str | None:
        """Who holds the Lease now, as the server says (``None``: nobody, or no Lease)."""
        lease = self.cluster.get(self.key)
        holder = ((lease or {}).get("spec") or {}).get("holderIdentity")
        return str(holder) if holder else None

    def try_acquire_or_renew(self) -> bool:
        """One round: create, renew or take over the Lease when allowed; returns whether this replica leads.

        Raises:
            ClusterError: The API server could not be reached or refused the Lease (not a lost race).
        """
        attempted = time.monotonic()  # counted from before the request: the server may apply it late
        now = self._clock()
        lease = self.cluster.get(self.key)
        if lease is None:
            return self._won(self._create(now), attempted)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity and not _expired(spec, now):
            return self._lost(holder)
        renewed = {**spec, "holderIdentity": self.identity, "leaseDurationSeconds": self.lease_duration}
        renewed["renewTime"] = format_micro_time(now)
        if holder != self.identity:
            renewed["acquireTime"] = format_micro_time(now)
            renewed["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        metadata = lease.get("metadata") or {}
        body = _lease(self.key, renewed, resource_version=str(metadata.get("resourceVersion") or ""))
        try:
            self.cluster.replace(body)
        except ConflictError:
            return self._lost(holder or "?")  # another replica wrote first; look again next round
        return self._won(True, attempted)

    def release(self) -> bool:
        """Give the Lease up if this replica holds it; returns whether it did. Call after the work has stopped."""
        with self._lock:
            self._renewed_at = None
        try:
            lease = self.cluster.get(self.key)
            spec = (lease or {}).get("spec") or {}
            if lease is None or spec.get("holderIdentity") != self.identity:
                return False
            now = format_micro_time(self._clock())
            released = {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": now}
            version = str((lease.get("metadata") or {}).get("resourceVersion") or "")
            self.cluster.replace(_lease(self.key, released, resource_version=version))
        except (ConflictError, NotFoundError):
            return False  # someone took it over meanwhile, or deleted it: nothing left to release
        self._log.info("reconcile.controller.lease.released")
        return True

    def run(self, stop: threading.Event, *, release: Callable[[], bool] = lambda: True) -> None:
        """Acquire and renew every ``renew_period`` until ``stop`` is set; then release if ``release()`` says so."""
        while not stop.is_set():
            try:
                self.try_acquire_or_renew()
            except ClusterError as exc:
                self._log.warning("reconcile.controller.lease.error", error=str(exc))
            stop.wait(self.renew_period)
        if release():
            try:
                self.release()
            except ClusterError as exc:
                self._log.warning("reconcile.controller.lease.release_failed", error=str(exc))

    def _create(self, now: dt.datetime) -> bool:
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_duration,
            "acquireTime": format_micro_time(now),
            "renewTime": format_micro_time(now),
            "leaseTransitions": 0,
        }
        try:
            self.cluster.create(_lease(self.key, spec))
        except ConflictError:
            return False  # another replica created it first
        return True

    def _won(self, won: bool, attempted: float) -> bool:
        if not won:
            return self._lost("?")
        with self._lock:
            was_leader = self._renewed_at is not None and attempted - self._renewed_at < self.renew_deadline
            self._renewed_at = attempted
        if not was_leader:
            self.transitions += 1
            self._log.info("reconcile.controller.lease.acquired")
        return True

    def _lost(self, holder: str) -> bool:
        with self._lock:
            was_leader, self._renewed_at = self._renewed_at is not None, None
        if was_leader:
            self._log.warning("reconcile.controller.lease.lost", holder=holder)
        return False


def _expired(spec: Manifest, now: dt.datetime) -> bool:
    renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
    if renewed is None:
        return True
    return renewed + dt.timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0)) < now


def _lease(key: ResourceKey, spec: Manifest, *, resource_version: str = "") -> Manifest:
    metadata: dict[str, Any] = {"name": key.name, "namespace": key.namespace}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {"apiVersion": _API_VERSION, "kind": LEASE.kind, "metadata": metadata, "spec": spec}
