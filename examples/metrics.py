"""Prometheus metrics from reconcile's events: a callback that counts them, and a watcher that heals.

Argo CD exports ``argocd_app_sync_total``, ``argocd_app_reconcile`` and ``argocd_app_info``; the same figures come
out of the events a Reconciler hands its ``on_event`` callback, with the same names and labels. Run it and read
``http://localhost:8000/metrics``::

    python examples/metrics.py --port 8000

It syncs the guestbook into the in-memory cluster, watches it (a live edit is healed within the debounce), and
serves the metrics until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import prometheus_client as prom

import reconcile as rc
from reconcile import events

GUESTBOOK = Path(__file__).resolve().parent / "guestbook"


class Metrics:
    """Counts reconcile's events as Argo CD's metrics; give :meth:`__call__` to ``Reconciler(on_event=...)``.

    Args:
        registry: Where the metrics are registered (a fresh one per instance by default, so tests and several
            hosts in one process never collide in the global registry).
    """

    def __init__(self, registry: prom.CollectorRegistry | None = None) -> None:
        self.registry = registry or prom.CollectorRegistry()
        self.syncs = prom.Counter(
            "argocd_app_sync",  # the client adds _total
            "Sync operations by application and phase.",
            ["name", "phase", "dry_run"],
            registry=self.registry,
        )
        self.passes = prom.Histogram(
            "argocd_app_reconcile",
            "Seconds one reconcile pass took.",
            ["name"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
            registry=self.registry,
        )
        self.info = prom.Gauge(
            "argocd_app_info",
            "The application's sync status and health (1 for the current pair).",
            ["name", "sync_status", "health_status"],
            registry=self.registry,
        )
        self.drift = prom.Counter(
            "reconcile_app_drift_detected", "Times new drift was found.", ["name"], registry=self.registry
        )
        self.applied = prom.Counter(
            "reconcile_app_tasks", "Sync tasks by application and result.", ["name", "result"], registry=self.registry
        )
        self.health_changes = prom.Counter(
            "reconcile_app_health_changes", "Health changes of an application.", ["name", "to"], registry=self.registry
        )

    def __call__(self, event: events.Event) -> None:
        """Count one event."""
        match event:
            case events.SyncFinished(app=app, result=result):
                self.syncs.labels(app, str(result.phase), str(result.dry_run).lower()).inc()
            case events.TaskApplied(app=app, result=result):
                self.applied.labels(app, str(result.status)).inc()
            case events.DriftDetected(app=app):
                self.drift.labels(app).inc()
            case events.HealthChanged(app=app, key=None, new=new):
                self.health_changes.labels(app, str(new.status) if new else "None").inc()
            case events.PassFinished(app=app, result=result):
                self.passes.labels(app).observe(result.duration.total_seconds())
                self.info.clear()
                health = str(result.health.status) if result.health is not None else "Unknown"
                self.info.labels(app, str(result.sync_status), health).set(1)

    def exposition(self) -> str:
        """The metrics in Prometheus' text format (what ``/metrics`` serves)."""
        return prom.generate_latest(self.registry).decode()


def guestbook(folder: Path, cluster: rc.MemoryCluster, metrics: Metrics) -> rc.Reconciler:
    """The example guestbook, synced automatically with self-heal, counted by ``metrics``."""
    return rc.Reconciler(
        name="guestbook",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True, self_heal=True, prune=True),
        on_event=metrics,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the metrics of a watched guestbook until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="where /metrics is served (default 8000)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args(argv)
    metrics = Metrics()
    prom.start_http_server(args.port, registry=metrics.registry)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "guestbook"
        shutil.copytree(GUESTBOOK, copy)
        app = guestbook(copy, rc.MemoryCluster(), metrics)
        with rc.watch([app], interval=60, debounce=0.2):
            print(f"serving http://localhost:{args.port}/metrics (Ctrl-C stops)")
            with contextlib.suppress(KeyboardInterrupt):
                time.sleep(args.seconds if args.seconds is not None else 1e9)
    return 0


if __name__ == "__main__":
    sys.exit(main())
