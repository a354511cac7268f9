"""The example controller's parts that need no cluster: sharding, status building, the work queue."""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time

import controller
import pytest
import sharding
import status

import reconcile as rc
from reconcile.diff import DiffResult, ResourceDiff
from reconcile.model import Health

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
CM = rc.ResourceKey("", "ConfigMap", "web", "settings")


def test_shards_are_stable_and_spread_evenly() -> None:
    names = [f"app-{i}" for i in range(2000)]
    first = [sharding.shard_of("argocd", name, 4) for name in names]
    assert first == [sharding.shard_of("argocd", name, 4) for name in names]
    counts = collections.Counter(first)
    assert set(counts) == {0, 1, 2, 3}
    assert all(400 < n < 600 for n in counts.values()), counts  # 500 each, give or take
    assert {sharding.shard_of("argocd", name, 1) for name in names} == {0}
    # namespace/name is what is hashed: the same name in another namespace may land elsewhere
    assert any(sharding.shard_of("a", n, 4) != sharding.shard_of("b", n, 4) for n in names[:20])


def test_a_shard_owns_exactly_its_applications_and_names_its_lease() -> None:
    shards = [sharding.Shard(i, 3) for i in range(3)]
    for name in ("guestbook", "billing", "api", "web", "db"):
        assert sum(s.owns("argocd", name) for s in shards) == 1
    assert sharding.Shard().lease_name("ctl") == "ctl"
    assert shards[2].lease_name("ctl") == "ctl-shard-2-of-3"
    with pytest.raises(ValueError, match="shard 3 of 3"):
        sharding.Shard(3, 3)


@pytest.mark.parametrize(("value", "index"), [("2", 2), ("controller-11", 11), (" 0 ", 0)])
def test_parse_shard_reads_a_number_or_a_statefulset_ordinal(value: str, index: int) -> None:
    assert sharding.parse_shard(value) == index


def test_parse_shard_refuses_a_name_without_ordinal() -> None:
    with pytest.raises(ValueError, match="controller-a"):
        sharding.parse_shard("controller-a")


def test_merge_patch_removes_what_went_away_and_keeps_what_stayed() -> None:
    old = {"sync": {"status": "OutOfSync", "revision": "a"}, "health": {"status": "Degraded", "message": "x"}}
    new = {"sync": {"status": "Synced", "revision": "a"}, "health": {"status": "Healthy"}, "reconciledAt": "t"}
    patch = status.merge_patch(old, new)
    health = {"status": "Healthy", "message": None}
    assert patch == {"sync": {"status": "Synced"}, "health": health, "reconciledAt": "t"}
    assert status.merge_patch(new, new) == {}
    assert status.merge_patch({"conditions": [{"type": "A"}]}, {}) == {"conditions": None}


def test_changed_leaves_out_reconciled_at() -> None:
    old = {"sync": {"status": "Synced"}, "reconciledAt": "2024-05-01T12:00:00Z"}
    assert not status.changed(old, {**old, "reconciledAt": "2024-05-01T12:05:00Z"})
    assert status.changed(old, {**old, "sync": {"status": "OutOfSync"}})
    assert status.changed(None, old)


def _result(**fields: object) -> rc.ReconcileResult:
    diff = DiffResult(resources=(ResourceDiff(key=CM, desired={"apiVersion": "v1"}, live=None, predicted=None),))
    base: dict[str, object] = {
        "app": "web",
        "sync_status": rc.SyncStatus.SYNCED,
        "health": Health(rc.HealthStatus.HEALTHY),
        "revision": rc.model.Revision(sha="a" * 40, ref="main"),
        "diff": diff,
        "resources": (
            rc.ResourceStatus(
                key=CM, status=rc.SyncStatus.SYNCED, action=rc.SyncAction.CREATE, health=Health(rc.HealthStatus.HEALTHY)
            ),
        ),
    }
    return rc.ReconcileResult(**{**base, **fields})  # type: ignore[arg-type]


def test_status_after_a_sync_has_argo_cds_shape() -> None:
    task = rc.sync.ResourceResult(
        key=CM,
        status=rc.ResultCode.SYNCED,
        action=rc.SyncAction.CREATE,
        message="configmap/settings created",
        stored={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}},
    )
    sync = rc.sync.SyncResult(
        phase=rc.OperationPhase.SUCCEEDED, message="successfully synced (all tasks run)", resources=(task,)
    )
    spec = {"source": {"repoURL": "file:///r", "path": "web"}, "destination": {"namespace": "web"}}
    got = status.app_status(_result(sync=sync), spec=spec, previous=None, now=NOW)
    assert got["sync"] == {"status": "Synced", "revision": "a" * 40, "comparedTo": spec}
    assert got["health"] == {"status": "Healthy"}
    assert got["reconciledAt"] == "2024-05-01T12:00:00Z"
    assert got["resources"] == [
        {
            "group": "",
            "version": "v1",
            "kind": "ConfigMap",
            "namespace": "web",
            "name": "settings",
            "status": "Synced",
            "health": {"status": "Healthy"},
        }
    ]
    operation = got["operationState"]
    assert operation["phase"] == "Succeeded"
    assert operation["message"] == "successfully synced (all tasks run)"
    assert operation["operation"]["sync"]["revision"] == "a" * 40
    assert operation["syncResult"]["resources"] == [
        {
            "group": "",
            "version": "v1",
            "kind": "ConfigMap",
            "namespace": "web",
            "name": "settings",
            "status": "Synced",
            "message": "configmap/settings created",
            "syncPhase": "Sync",
        }
    ]
    assert "conditions" not in got


def test_status_without_a_sync_keeps_the_last_operation_and_reports_errors() -> None:
    previous = {"operationState": {"phase": "Succeeded"}, "health": {"status": "Healthy"}}
    error = rc.SourceError("repository unreachable")
    failed = rc.ReconcileResult(app="web", sync_status=rc.SyncStatus.UNKNOWN, error=error)
    got = status.app_status(failed, spec={}, previous=previous, now=NOW)
    assert got["operationState"] == {"phase": "Succeeded"}
    assert got["health"] == {"status": "Healthy"}  # not read anew: kept
    assert got["sync"]["status"] == "Unknown"
    assert got["conditions"] == [
        {"type": "ComparisonError", "message": "repository unreachable", "lastTransitionTime": "2024-05-01T12:00:00Z"}
    ]
    later = status.app_status(failed, spec={}, previous=got, now=NOW + dt.timedelta(minutes=5))
    assert not status.changed(got, later)  # same condition, same transition time: nothing to write


def test_work_queue_gives_due_keys_earliest_first_and_keeps_the_earlier_time() -> None:
    queue = controller.WorkQueue()
    a = rc.ResourceKey("argoproj.io", "Application", "ns", "a")
    b = rc.ResourceKey("argoproj.io", "Application", "ns", "b")
    queue.add(a, 60)
    queue.add(b, 0.05)
    queue.add(a, 0.0)  # an event makes it due now: the earlier time wins
    queue.add(a, 60)  # a later time does not push it back
    assert a in queue
    assert queue.pop(1.0) == a
    assert a not in queue
    started = time.monotonic()
    assert queue.pop(1.0) == b
    assert queue.pop(0.05) is None
    assert time.monotonic() - started < 0.5
    assert len(queue) == 0


def test_work_queue_pop_wakes_when_a_key_is_added() -> None:
    queue = controller.WorkQueue()
    key = rc.ResourceKey("argoproj.io", "Application", "ns", "a")
    threading.Timer(0.1, queue.add, args=(key,)).start()
    started = time.monotonic()
    assert queue.pop(5.0) == key
    assert time.monotonic() - started < 2.0
