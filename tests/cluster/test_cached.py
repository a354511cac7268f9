"""The live cache on the real control plane: a pass that changes nothing makes no API call."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcile as rc
from reconcile.cluster._cached import CachedCluster
from support import eventually

pytestmark = pytest.mark.integration  # real servers, tools or the control plane

CONFIGMAPS = "".join(
    f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  index: '{i}'\n" for i in range(20)
)


def test_no_op_passes_make_no_api_calls_and_drift_still_arrives(kube_cluster, kube_namespace, tmp_path: Path):
    # ConfigMaps only: no controller changes them behind the test's back, so "nothing changed" is exact.
    (tmp_path / "app.yaml").write_text(CONFIGMAPS)
    with CachedCluster(kube_cluster) as cached:
        app = rc.Reconciler(
            name=f"cached-{kube_namespace}",
            source=rc.DirectorySource(tmp_path),
            renderer=rc.DirectoryRenderer(),
            cluster=cached,
            namespace=kube_namespace,
            policy=rc.SyncPolicy(automated=True, self_heal=True),
        )
        assert app.reconcile().sync_status is rc.SyncStatus.SYNCED
        app.reconcile()  # lists the kinds in play once more: their caches start here
        assert rc.GroupKind("", "ConfigMap") in cached.cached_kinds

        kube_cluster.stats.reset()
        quiet = app.reconcile()
        assert quiet.sync is None
        assert quiet.sync_status is rc.SyncStatus.SYNCED
        assert kube_cluster.stats.total == 0, kube_cluster.stats.as_dict()

        # Drift made by someone else reaches the cache by watch, and is healed.
        drifted = rc.ResourceKey("", "ConfigMap", kube_namespace, "cm-3")
        kube_cluster.patch(drifted, {"data": {"index": "changed"}}, field_manager="kubectl-patch")
        eventually(lambda: cached.get(drifted)["data"]["index"] == "changed")
        healed = app.reconcile()
        assert [r.message for r in healed.sync.resources if r.action is rc.SyncAction.UPDATE] == [
            "configmap/cm-3 configured"
        ]
        assert cached.get(drifted)["data"]["index"] == "3"  # read-your-writes, before the watch says so
        assert kube_cluster.get(drifted)["data"]["index"] == "3"
