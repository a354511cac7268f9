"""Callbacks: the events of a pass and of a sync, in order, and a callback that raises never breaks a sync."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import structlog

import reconcile as rc
from reconcile import events

GUESTBOOK = Path(__file__).parents[1] / "examples" / "guestbook"
DEPLOYMENT = rc.ResourceKey("apps", "Deployment", "default", "guestbook-ui")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(GUESTBOOK, app)
    return app


def make_app(folder: Path, cluster: rc.MemoryCluster, sink: Any, **policy: Any) -> rc.Reconciler:
    return rc.Reconciler(
        name="guestbook",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(**policy),
        on_event=sink,
    )


def test_a_first_automated_pass_reports_drift_then_the_sync_wave_by_wave_then_health(folder):
    seen: list[events.Event] = []
    result = make_app(folder, rc.MemoryCluster(), seen.append, automated=True).reconcile()

    assert result.ok
    names = [type(e).__name__ for e in seen]
    assert names == [
        "DriftDetected",
        "SyncStarted",
        "WaveStarted",
        "TaskApplied",
        "TaskApplied",
        "TaskApplied",
        "WaveFinished",
        "SyncFinished",
        "HealthChanged",
        "PassFinished",
    ]
    drift = seen[0]
    assert isinstance(drift, events.DriftDetected)
    assert len(drift.keys) == 3
    assert drift.revision == result.revision
    started = seen[1]
    assert isinstance(started, events.SyncStarted)
    assert (started.tasks, started.dry_run) == (3, False)
    applied = [e for e in seen if isinstance(e, events.TaskApplied)]
    assert [e.key.kind for e in applied] == ["ConfigMap", "Service", "Deployment"]
    assert applied[2].result.message == "deployment.apps/guestbook-ui created"
    wave = seen[6]
    assert isinstance(wave, events.WaveFinished)
    assert (wave.phase, wave.wave, wave.succeeded) == ("Sync", 0, True)
    finished = seen[7]
    assert isinstance(finished, events.SyncFinished)
    assert finished.result.succeeded
    health = seen[8]
    assert isinstance(health, events.HealthChanged)
    assert health.key is None
    assert health.old is None
    assert health.new == result.health
    assert all(e.app == "guestbook" for e in seen)
    last = seen[-1]
    assert isinstance(last, events.PassFinished)
    assert last.result is result


def test_the_same_drift_is_reported_once_and_object_health_changes_between_passes(folder):
    cluster = rc.MemoryCluster()
    seen: list[events.Event] = []
    app = make_app(folder, cluster, seen.append)  # manual: drift stays
    app.reconcile()
    app.reconcile()
    assert [type(e).__name__ for e in seen].count("DriftDetected") == 1

    app.sync()
    seen.clear()
    app.reconcile()  # in sync now, and the objects are live: their health appears
    changed = {e.key: e for e in seen if isinstance(e, events.HealthChanged)}
    assert DEPLOYMENT in changed
    assert changed[DEPLOYMENT].old is None
    assert changed[DEPLOYMENT].new is not None
    assert not any(isinstance(e, events.DriftDetected) for e in seen)

    cluster.edit(DEPLOYMENT, lambda d: d["spec"].update(replicas=5))
    seen.clear()
    app.reconcile()
    drift = [e for e in seen if isinstance(e, events.DriftDetected)]
    assert [d.keys for d in drift] == [(DEPLOYMENT,)]


def test_a_callback_that_raises_is_logged_and_the_sync_goes_on(folder):
    calls: list[str] = []

    def broken(event: events.Event) -> None:
        calls.append(type(event).__name__)
        raise RuntimeError("the host's bug")

    with structlog.testing.capture_logs() as logs:
        result = make_app(folder, rc.MemoryCluster(), broken, automated=True).reconcile()

    assert result.ok
    assert result.sync is not None
    assert result.sync.succeeded
    assert "SyncFinished" in calls
    assert "PassFinished" in calls
    failures = [entry for entry in logs if entry["event"] == "reconcile.event.callback_failed"]
    assert len(failures) == len(calls)
    assert failures[0]["error"] == "RuntimeError: the host's bug"


def test_a_failed_stage_and_a_failed_sync_are_operation_failed_events(folder, tmp_path):
    seen: list[events.Event] = []
    missing = rc.Reconciler(
        name="gone",
        source=rc.DirectorySource(tmp_path / "nowhere"),
        renderer=rc.DirectoryRenderer(),
        cluster=rc.MemoryCluster(),
        on_event=seen.append,
    )
    result = missing.reconcile()
    failed = [e for e in seen if isinstance(e, events.OperationFailed)]
    assert len(failed) == 1
    assert failed[0].error is result.error
    assert not any(isinstance(e, events.HealthChanged) for e in seen)

    (folder / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n")
    seen.clear()
    result = make_app(folder, rc.MemoryCluster(), seen.append, automated=True).reconcile()
    assert result.sync is not None
    assert not result.sync.succeeded
    failed = [e for e in seen if isinstance(e, events.OperationFailed)]
    assert [f.result for f in failed] == [result.sync]
    assert "dry run" in failed[0].message


def test_waves_and_hooks_are_reported_in_the_order_they_run(tmp_path):
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "objects.yaml").write_text(
        """
apiVersion: v1
kind: ConfigMap
metadata: {name: first, annotations: {argocd.argoproj.io/sync-wave: "-1"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: second, annotations: {argocd.argoproj.io/sync-wave: "2"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: after, annotations: {argocd.argoproj.io/hook: PostSync}}
"""
    )
    seen: list[events.Event] = []
    app = rc.Reconciler(
        name="waves",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=rc.MemoryCluster(),
        on_event=seen.append,
    )
    assert app.sync().succeeded
    waves = [
        (type(e).__name__, e.phase, e.wave) for e in seen if isinstance(e, events.WaveStarted | events.WaveFinished)
    ]
    assert waves == [
        ("WaveStarted", "Sync", -1),
        ("WaveFinished", "Sync", -1),
        ("WaveStarted", "Sync", 2),
        ("WaveFinished", "Sync", 2),
        ("WaveStarted", "PostSync", 0),
        ("WaveFinished", "PostSync", 0),
    ]
    assert all(e.succeeded for e in seen if isinstance(e, events.WaveFinished))
    hooks = [e for e in seen if isinstance(e, events.TaskApplied) and e.phase == "PostSync"]
    assert [e.result.message for e in hooks] == ["configmap/after created", "configmap/after completed"]


def test_a_sync_operation_driven_by_the_host_reports_too():
    cluster = rc.MemoryCluster()
    seen: list[events.Event] = []
    target = rc.model.Resource.from_manifest(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "default"}}
    )
    syncer = rc.sync.ArgoSyncer(on_event=seen.append)
    diff = rc.diff.ArgoDiffer(server_side=False).diff([target], {}, cluster=cluster)
    plan = syncer.plan(cluster, app="host", targets=[target], diff=diff)
    operation = syncer.start(cluster, plan, app="host", dry_run=True)
    assert operation.run().succeeded
    assert [type(e).__name__ for e in seen] == ["SyncStarted", "TaskApplied", "SyncFinished"]
    started = seen[0]
    assert isinstance(started, events.SyncStarted)
    assert started.dry_run


def test_events_are_frozen_and_a_reconciler_refuses_a_callback_that_is_not_callable(folder):
    event = events.WaveStarted(app="a", phase="Sync", wave=0)
    with pytest.raises(AttributeError):
        event.wave = 1  # type: ignore[misc]
    with pytest.raises(rc.ConfigurationError, match="on_event"):
        make_app(folder, rc.MemoryCluster(), "not a function")
