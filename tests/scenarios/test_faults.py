"""Faults on the real control plane: the API server goes away in the middle of a sync and comes back."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import reconcile as rc
from reconcile.cluster._kubernetes import KubernetesCluster
from reconcile.testing import ControlPlane

COUNT = 300


class _StopsTheServer:
    """A cluster that stops the API server (in the background) when the sync's Nth real apply starts."""

    def __init__(self, inner: KubernetesCluster, plane: ControlPlane, after: int) -> None:
        self.inner, self.plane, self.after = inner, plane, after
        self.applies = 0
        self.lock = threading.Lock()
        self.stopper: threading.Thread | None = None

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def apply(self, obj, *, field_manager="reconcile", force=False, dry_run=False):
        if not dry_run:
            with self.lock:
                self.applies += 1
                if self.applies == self.after:
                    self.stopper = threading.Thread(target=self.plane.stop_apiserver)
                    self.stopper.start()
        return self.inner.apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)


@pytest.mark.integration
def test_a_sync_cut_by_an_outage_completes_on_the_next_pass(tmp_path: Path):
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "configmaps.yaml").write_text(
        "".join(
            f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  i: '{i}'\n"
            for i in range(COUNT)
        )
    )
    with ControlPlane(controller_manager=False) as plane:
        cluster = KubernetesCluster.from_kubeconfig(str(plane.kubeconfig), max_retries=2, backoff=0.05, max_backoff=0.2)
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "outage"}})
        flaky = _StopsTheServer(cluster, plane, after=COUNT // 3)
        app = rc.Reconciler(
            name="outage",
            source=rc.DirectorySource(folder),
            renderer=rc.DirectoryRenderer(),
            cluster=flaky,
            namespace="outage",
            policy=rc.SyncPolicy(automated=True, self_heal=True),
        )

        cut = app.reconcile()
        flaky.stopper.join()

        assert cut.sync is not None
        assert cut.sync.phase is rc.OperationPhase.FAILED
        failed = cut.sync.failed_resources
        assert failed
        assert all(r.key.kind == "ConfigMap" for r in failed)
        unreachable = app.reconcile()  # while the server is down: a typed, retryable error, no exception
        assert unreachable.sync_status is rc.SyncStatus.UNKNOWN
        assert isinstance(unreachable.error, rc.ClusterError)
        assert unreachable.error.retryable

        plane.start_apiserver()
        healed = app.reconcile()

        assert healed.error is None
        assert healed.sync_status is rc.SyncStatus.SYNCED
        live = cluster.list(rc.GroupKind("", "ConfigMap"), namespace="outage")
        names = sorted(obj["metadata"]["name"] for obj in live if obj["metadata"]["name"].startswith("cm-"))
        assert names == sorted(f"cm-{i}" for i in range(COUNT))  # nothing missing, nothing twice
        assert all(
            obj["data"] == {"i": obj["metadata"]["name"][3:]}
            for obj in live
            if obj["metadata"]["name"].startswith("cm-")
        )


@pytest.mark.integration
def test_a_pass_against_a_frozen_etcd_ends_at_its_deadline(tmp_path: Path):
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n")
    with ControlPlane(controller_manager=False) as plane:
        cluster = KubernetesCluster.from_kubeconfig(str(plane.kubeconfig))  # 30 s per request, 5 retries
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "frozen"}})
        app = rc.Reconciler(
            name="frozen",
            source=rc.DirectorySource(folder),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
            namespace="frozen",
            policy=rc.SyncPolicy(automated=True),
            pass_timeout=4.0,
        )
        etcd = plane.pids["etcd"]
        os.kill(etcd, signal.SIGSTOP)
        try:
            started = time.monotonic()
            frozen = app.reconcile()
            took = time.monotonic() - started
        finally:
            os.kill(etcd, signal.SIGCONT)

        assert took < 4.0 + 2.0, took  # the deadline, and one last request's minimum of a second
        assert frozen.sync_status is rc.SyncStatus.UNKNOWN
        assert isinstance(frozen.error, rc.ClusterError)
        assert frozen.error.retryable
        assert "deadline" in frozen.error.message
        healed = app.reconcile()
        assert healed.error is None, healed
        assert healed.sync_status is rc.SyncStatus.SYNCED
