"""The syncer on its own: dry-run first, ordering, prune safety, messages."""

from __future__ import annotations

import reconcile as rc
from reconcile.argocd import tracking
from reconcile.diff import ArgoDiffer
from reconcile.sync import ArgoSyncer, SyncOptions


def _cm(name: str, **data: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"},
        "data": dict(data),
    }


def _targets(*objs: dict) -> list[rc.model.Resource]:
    return [rc.model.Resource.from_manifest(tracking.annotate(o, "app")) for o in objs]


def _live(cluster: rc.MemoryCluster, targets: list[rc.model.Resource]) -> dict[rc.ResourceKey, dict]:
    wanted = {t.key for t in targets}
    return {
        rc.ResourceKey.from_manifest(o): o
        for o in cluster.list()
        if rc.ResourceKey.from_manifest(o) in wanted or tracking.is_owned_by(o, "app")
    }


def _sync(cluster: rc.MemoryCluster, targets: list[rc.model.Resource], **options) -> rc.sync.SyncResult:
    diff = ArgoDiffer().diff(targets, _live(cluster, targets))
    return ArgoSyncer().sync(cluster, app="app", targets=targets, diff=diff, **options)


def test_prune_runs_in_reverse_kind_order_before_the_applies_of_its_wave():
    cluster = rc.MemoryCluster()
    old = _targets(
        _cm("a"),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s", "namespace": "default"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}]},
        },
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "default"}},
    )
    assert _sync(cluster, old).succeeded

    result = _sync(cluster, _targets(_cm("b")), prune=True)

    assert [(r.key.kind, r.key.name, r.action, r.message) for r in result.resources] == [
        ("Service", "s", rc.SyncAction.PRUNE, "pruned"),
        ("ConfigMap", "a", rc.SyncAction.PRUNE, "pruned"),
        ("ServiceAccount", "sa", rc.SyncAction.PRUNE, "pruned"),
        ("ConfigMap", "b", rc.SyncAction.CREATE, "configmap/b created"),
    ]


def test_a_dry_run_prune_says_so_and_deletes_nothing():
    cluster = rc.MemoryCluster()
    _sync(cluster, _targets(_cm("a")))

    result = _sync(cluster, [], prune=True, dry_run=True)

    assert [(r.status, r.message) for r in result.resources] == [(rc.ResultCode.PRUNED, "pruned (dry run)")]
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "a")) is not None


def test_an_object_gone_before_its_prune_counts_as_pruned():
    cluster = rc.MemoryCluster()
    _sync(cluster, _targets(_cm("a")))
    diff = ArgoDiffer().diff([], _live(cluster, []))
    cluster.delete(rc.ResourceKey("", "ConfigMap", "default", "a"))

    result = ArgoSyncer().sync(cluster, app="app", targets=[], diff=diff, prune=True)

    assert [(r.status, r.message) for r in result.resources] == [(rc.ResultCode.PRUNED, "pruned")]


def test_a_diff_entry_for_an_object_the_app_does_not_own_is_never_pruned():
    cluster = rc.MemoryCluster()
    cluster.create(_cm("theirs"), field_manager="someone")
    live = {
        rc.ResourceKey("", "ConfigMap", "default", "theirs"): cluster.get(
            rc.ResourceKey("", "ConfigMap", "default", "theirs")
        )
    }
    # A differ handed an object the app does not own (a buggy or custom differ) must not lead to a delete.
    diff = ArgoDiffer().diff([], live)

    result = ArgoSyncer().sync(cluster, app="app", targets=[], diff=diff, prune=True)

    assert result.resources == ()
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "theirs")) is not None


class _FailingWrites:
    """A cluster whose real (not dry-run) applies of one object fail: the server accepted the dry run."""

    def __init__(self, inner: rc.MemoryCluster, key: rc.ResourceKey) -> None:
        self.inner, self.key = inner, key

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def apply(self, obj, *, field_manager="reconcile", force=False, dry_run=False):
        if not dry_run and rc.ResourceKey.from_manifest(obj) == self.key:
            raise rc.ClusterError("etcdserver: request timed out", key=self.key, status=500)
        return self.inner.apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)


def test_an_apply_failure_after_a_clean_dry_run_fails_the_operation_before_the_next_wave():
    cluster = rc.MemoryCluster()
    _sync(cluster, _targets(_cm("old")))
    later = _cm("c")
    later["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": "1"}
    targets = _targets(_cm("a"), _cm("b"), later)
    diff = ArgoDiffer().diff(targets, _live(cluster, targets))
    failing = _FailingWrites(cluster, rc.ResourceKey("", "ConfigMap", "default", "a"))

    result = ArgoSyncer().sync(failing, app="app", targets=targets, diff=diff, prune=True)

    assert result.phase is rc.OperationPhase.FAILED
    assert result.message == "one or more objects failed to apply (1 of 3 in Sync wave 0)"
    # Wave 0 ran whole, its prune first, as the reference runs a wave; wave 1 never started.
    assert [(r.key.name, r.status, r.message) for r in result.resources] == [
        ("old", rc.ResultCode.PRUNED, "pruned"),
        ("a", rc.ResultCode.SYNC_FAILED, "etcdserver: request timed out"),
        ("b", rc.ResultCode.SYNCED, "configmap/b created"),
    ]
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "c")) is None


class _CountingApplies:
    """A cluster that counts real and dry-run applies."""

    def __init__(self, inner: rc.MemoryCluster) -> None:
        self.inner = inner
        self.applies: list[tuple[str, bool]] = []

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def apply(self, obj, *, field_manager="reconcile", force=False, dry_run=False):
        self.applies.append((obj["metadata"]["name"], dry_run))
        return self.inner.apply(obj, field_manager=field_manager, force=force, dry_run=dry_run)


def test_objects_in_sync_cost_no_request_unless_every_object_is_to_be_applied():
    cluster = rc.MemoryCluster()
    _sync(cluster, _targets(_cm("a", k="1"), _cm("b", k="1")))
    targets = _targets(_cm("a", k="1"), _cm("b", k="2"))
    diff = ArgoDiffer().diff(targets, _live(cluster, targets))
    counting = _CountingApplies(cluster)

    result = ArgoSyncer().sync(counting, app="app", targets=targets, diff=diff)

    assert counting.applies == [("b", True), ("b", False)]
    assert [(r.action, r.message) for r in result.resources] == [
        (rc.SyncAction.NONE, "configmap/a unchanged"),
        (rc.SyncAction.UPDATE, "configmap/b configured"),
    ]

    counting.applies.clear()
    ArgoSyncer(options=SyncOptions()).sync(counting, app="app", targets=targets, diff=diff)
    assert counting.applies == [("a", True), ("b", True), ("a", False), ("b", False)]
