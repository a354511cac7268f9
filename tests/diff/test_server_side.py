"""Server-side predictions: dry-run answers, their cache, and objects that change while we look."""

from __future__ import annotations

import reconcile as rc
from reconcile.argocd.tracking import annotate

CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "default"}, "data": {"a": "1"}}
KEY = rc.ResourceKey("", "ConfigMap", "default", "cfg")


class _Counting:
    """A cluster that counts dry runs."""

    def __init__(self, inner: rc.MemoryCluster) -> None:
        self.inner = inner
        self.dry_runs = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def apply(self, obj, *, field_manager="reconcile", force=False, dry_run=False):
        self.dry_runs += dry_run
        return self.inner.apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)


class _ControllerRace(_Counting):
    """A cluster where a controller writes the object just before each dry run is answered."""

    def apply(self, obj, *, field_manager="reconcile", force=False, dry_run=False):
        if dry_run:
            revision = str(self.dry_runs + 1)
            self.inner.patch(KEY, {"metadata": {"annotations": {"controller/revision": revision}}}, field_manager="ctl")
        return super().apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)


def test_a_write_between_the_list_and_the_dry_run_is_not_reported_as_drift():
    cluster = rc.MemoryCluster()
    target = rc.model.Resource.from_manifest(annotate(CM, "app"))
    cluster.apply(target.manifest)
    stale = {KEY: cluster.get(KEY)}
    racing = _ControllerRace(cluster)

    diff = rc.diff.ArgoDiffer().diff([target], stale, cluster=racing)

    assert racing.dry_runs == 1
    assert diff[KEY].changes == ()
    assert diff[KEY].live["metadata"]["annotations"]["controller/revision"] == "1"  # compared with the fresh read


def test_an_unchanged_pass_sends_no_dry_run_and_a_live_change_sends_one():
    cluster = rc.MemoryCluster()
    target = rc.model.Resource.from_manifest(annotate(CM, "app"))
    cluster.apply(target.manifest)
    counting = _Counting(cluster)
    differ = rc.diff.ArgoDiffer()

    differ.diff([target], {KEY: cluster.get(KEY)}, cluster=counting)
    differ.diff([target], {KEY: cluster.get(KEY)}, cluster=counting)
    assert counting.dry_runs == 1

    cluster.patch(KEY, {"data": {"a": "drifted"}}, field_manager="kubectl-patch")
    drift = differ.diff([target], {KEY: cluster.get(KEY)}, cluster=counting)
    assert counting.dry_runs == 2
    assert [str(c) for c in drift[KEY].changes] == ['~ /data/a: drifted -> "1"']


def test_an_object_can_ask_for_a_local_prediction():
    cluster = rc.MemoryCluster()
    local = {
        **CM,
        "metadata": {**CM["metadata"], "annotations": {"argocd.argoproj.io/compare-options": "ServerSideDiff=false"}},
    }
    target = rc.model.Resource.from_manifest(annotate(local, "app"))
    cluster.apply(target.manifest)
    counting = _Counting(cluster)

    diff = rc.diff.ArgoDiffer().diff([target], {KEY: cluster.get(KEY)}, cluster=counting)

    assert counting.dry_runs == 0
    assert not diff[KEY].modified


def test_a_diff_reads_as_markdown():
    cluster = rc.MemoryCluster()
    target = rc.model.Resource.from_manifest(annotate(CM, "app"))
    cluster.apply(target.manifest)
    cluster.patch(KEY, {"data": {"a": "drifted"}}, field_manager="kubectl-patch")

    markdown = rc.diff.ArgoDiffer().diff([target], {KEY: cluster.get(KEY)}, cluster=cluster)._repr_markdown_()

    assert markdown.startswith("OutOfSync")
    assert "```diff\n--- live/ConfigMap/default/cfg" in markdown
    assert "-  a: drifted\n+  a: '1'" in markdown
