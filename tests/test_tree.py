"""The resource tree on the in-memory cluster: owners, a StatefulSet's claims, events, bounds, cycles, pictures."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

import pytest

import reconcile as rc
from reconcile.tree import ResourceTree, TreeBuilder

STATEFULSET = rc.ResourceKey("apps", "StatefulSet", "default", "db")
POD = rc.GroupKind("", "Pod")


def statefulset() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "pg"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }


def owned(kind: str, name: str, owner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    meta = owner["metadata"]
    reference = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"]}
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "default", "ownerReferences": [reference]},
    }
    obj.update(extra)
    return obj


def pod(name: str, owner: dict[str, Any], *, phase: str = "Running") -> dict[str, Any]:
    return owned("Pod", name, owner, spec={"containers": [{"name": "db", "image": "pg"}]}, status={"phase": phase})


def event(target: dict[str, Any], reason: str, when: str, *, kind: str = "Warning", count: int = 1) -> dict[str, Any]:
    meta = target["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{reason.lower()}.{when[-9:-1].replace(':', '')}", "namespace": "default"},
        "involvedObject": {"uid": meta["uid"], "kind": target["kind"], "name": meta["name"]},
        "reason": reason,
        "message": f"{reason} happened",
        "type": kind,
        "count": count,
        "lastTimestamp": when,
    }


@pytest.fixture
def cluster() -> rc.MemoryCluster:
    return rc.MemoryCluster()


def build(cluster: rc.MemoryCluster, live: dict[str, Any], **options: Any) -> ResourceTree:
    builder = TreeBuilder(cluster, **options)
    key = rc.ResourceKey.from_manifest(live)
    return builder.build("db", [(key, live, rc.SyncStatus.SYNCED, None)], sync_status=rc.SyncStatus.SYNCED)


def test_a_statefulset_owns_its_pods_by_reference_and_its_claims_by_name(cluster):
    sts = cluster.apply(statefulset())
    cluster.create(pod("db-0", sts))
    cluster.create({**pod("db-1", sts), "status": {}})
    claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    for name in ("data-db-0", "data-db-1", "data-other-0", "data-db-x"):
        cluster.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": claim})
    tree = build(cluster, sts)
    node = tree.find(STATEFULSET)
    assert node is not None
    assert [(child.kind, child.name) for child in node.children] == [
        ("PersistentVolumeClaim", "data-db-0"),
        ("PersistentVolumeClaim", "data-db-1"),
        ("Pod", "db-0"),
        ("Pod", "db-1"),
    ]
    assert all(not child.managed and child.sync_status is None for child in node.children)
    assert tree.live_objects == 1 + 2 + 4  # the claims of other names were listed, and are not the StatefulSet's


def test_events_are_the_newest_first_and_at_most_five_and_warnings_make_a_node_troubled(cluster):
    sts = cluster.apply(statefulset())
    for minute in range(7):
        cluster.create(event(sts, f"Reason{minute}", f"2026-12-02T10:0{minute}:00Z", kind="Normal"))
    warned = cluster.create(pod("db-0", sts))
    cluster.create(event(warned, "BackOff", "2026-12-02T10:09:00Z", count=4))
    tree = build(cluster, sts)
    node = tree.find(STATEFULSET)
    assert [e.reason for e in node.events] == ["Reason6", "Reason5", "Reason4", "Reason3", "Reason2"]
    assert not node.troubled
    [child] = node.children
    assert child.troubled
    assert tree.troubled() == (child,)
    now = dt.datetime(2026, 12, 2, 10, 11, tzinfo=dt.UTC)
    assert child.events[0].describe(now) == "Warning BackOff (x4, 2m ago): BackOff happened"
    text = tree.render_text(now=now)
    assert "Warning BackOff (x4, 2m ago): BackOff happened" in text
    assert "Reason6" not in text  # a healthy node's Normal events stay out of the terminal
    assert "Pod default/db-0" in tree.render_troubles(now=now)


def test_past_max_children_the_rest_is_one_summary_node_with_troubled_ones_shown_first(cluster):
    sts = cluster.apply(statefulset())
    for index in range(12):
        cluster.create(pod(f"db-{index:02d}", sts))
        cluster.set_status(rc.ResourceKey("", "Pod", "default", f"db-{index:02d}"), {"phase": "Running"})
    cluster.set_status(rc.ResourceKey("", "Pod", "default", "db-11"), {"phase": "Failed"})
    node = build(cluster, sts, max_children=4, events=False).find(STATEFULSET)
    names = [child.name for child in node.children]
    assert names == ["db-00", "db-01", "db-02", "db-11", "8 more"]  # Degraded db-11 is kept, though it sorts last
    summary = node.children[-1]
    assert summary.hidden == 8
    assert summary.summary == "8 more Pod objects: 8 Progressing"  # running, not ready
    assert summary.to_dict()["hidden"] == 8


def test_an_ownership_cycle_ends(cluster):
    sts = cluster.apply(statefulset())
    first = cluster.create(pod("a", sts))
    second = cluster.create(owned("ConfigMap", "b", first))
    # a Pod owned by a ConfigMap it owns: only a broken controller writes this; the tree must still end
    cluster.patch(
        rc.ResourceKey("", "Pod", "default", "a"),
        {"metadata": {"ownerReferences": [*first["metadata"]["ownerReferences"], {
            "apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": second["metadata"]["uid"]}]}},
    )  # fmt: skip
    tree = build(cluster, sts)
    assert [child.name for child in tree.find(STATEFULSET).children] == ["a"]


def test_the_pictures_are_well_formed_and_escape_what_objects_say(cluster):
    sts = cluster.apply(statefulset())
    hostile = cluster.create(pod("db-0", sts))
    cluster.set_status(rc.ResourceKey("", "Pod", "default", "db-0"), {"phase": "Failed"})
    bad = event(hostile, "Evil", "2026-12-02T10:00:00Z")
    bad["message"] = "<script>alert(1)</script> & </svg>"
    cluster.create(bad)
    tree = build(cluster, sts)
    picture = tree.to_svg()
    ET.fromstring(picture)  # noqa: S314 - our own output; it parses, so every text was escaped
    assert "<script>" not in picture
    assert "&lt;script&gt;" in picture
    assert tree._repr_html_().startswith("<div")
    colored = tree.render_text(color=True)
    assert f"\x1b[38;2;{0xE9};{0x6D};{0x76}m" in colored  # Degraded, in Argo CD's red
    assert "\x1b[" not in tree.render_text()


def test_a_reconciler_builds_its_tree_and_puts_it_on_results_when_asked(tmp_path, cluster):
    (tmp_path / "db.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: password}\nstringData: {password: hunter2}\n"
    )
    app = rc.Reconciler(
        name="db",
        source=rc.DirectorySource(tmp_path),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True),
        resource_tree=True,
    )
    result = app.reconcile()
    assert result.tree is not None
    assert [(n.kind, n.sync_status) for n in result.tree.root.children] == [
        ("Secret", rc.SyncStatus.SYNCED),
        ("ConfigMap", rc.SyncStatus.SYNCED),
    ]
    assert "resource tree" in result._repr_html_()
    shown = str(result.tree) + result.tree.to_svg() + repr(result.tree.to_dict()) + result._repr_html_()
    assert "hunter2" not in shown
    assert "aHVudGVyMg" not in shown  # nor its base64


def test_results_plans_and_health_show_argo_cds_colours_and_icons(tmp_path, cluster):
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
    app = rc.Reconciler(
        name="db", source=rc.DirectorySource(tmp_path), renderer=rc.DirectoryRenderer(), cluster=cluster
    )
    plan = app.plan()._repr_html_()
    assert f"<span style='color:{rc.SyncStatus.OUT_OF_SYNC.color}'>+ create</span>" in plan
    synced = app.sync()._repr_html_()
    assert f"<span style='color:{rc.SyncStatus.SYNCED.color}'>\u2714 Synced</span>" in synced
    result = app.reconcile()._repr_html_()
    assert f"<span style='color:{rc.SyncStatus.SYNCED.color}'>\u2714 Synced</span>" in result
    degraded = rc.Health(rc.HealthStatus.DEGRADED, "crash <loop>")._repr_html_()
    assert degraded == (
        f"<span style='color:{rc.HealthStatus.DEGRADED.color}' title='Degraded'>\u2716 Degraded</span>"
        " <small>crash &lt;loop&gt;</small>"
    )
