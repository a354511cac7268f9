"""What a pass reads: a first pass picks the app's objects, later passes read only what changed, in the app's
namespaces; unchanged objects are neither copied, compared nor assessed again."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.argocd.tracking import TRACKING_ANNOTATION
from reconcile.diff import ArgoDiffer
from reconcile.model import Resource

GUESTBOOK = Path(__file__).parents[1] / "examples" / "guestbook"
DEPLOYMENT = rc.ResourceKey("apps", "Deployment", "shop", "guestbook-ui")


class CountingCluster(rc.MemoryCluster):
    """The in-memory cluster, counting the reads a Reconciler makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.namespaces: set[str | None] = set()

    def list(self, group_kind: Any = None, *, namespace: str | None = None) -> list[dict[str, Any]]:
        self.calls["list" if group_kind is not None else "list all"] += 1
        self.namespaces.add(namespace)
        return super().list(group_kind, namespace=namespace)

    def versions(self, group_kind: Any, *, namespace: str | None = None) -> dict[rc.ResourceKey, str]:
        self.calls["versions"] += 1
        self.namespaces.add(namespace)
        return super().versions(group_kind, namespace=namespace)

    def get(self, key: rc.ResourceKey, *, api_version: str | None = None) -> dict[str, Any] | None:
        self.calls["get"] += 1
        return super().get(key, api_version=api_version)

    def select(self, wanted: Any) -> list[dict[str, Any]]:
        self.calls["select"] += 1
        return super().select(wanted)


def make_app(
    folder: Path, cluster: rc.MemoryCluster, name: str = "guestbook", namespace: str = "shop"
) -> rc.Reconciler:
    return rc.Reconciler(
        name=name,
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace=namespace,
        policy=rc.SyncPolicy(automated=True, self_heal=True, prune=True, sync_options=("CreateNamespace=true",)),
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(GUESTBOOK, app)
    return app


def test_a_pass_that_finds_nothing_changed_reads_versions_only_and_reuses_its_comparisons(folder):
    cluster = CountingCluster()
    app = make_app(folder, cluster)
    first = app.reconcile()
    assert first.sync is not None
    assert first.sync.succeeded
    settle = app.reconcile()  # the objects as the sync left them
    cluster.calls.clear()
    again = app.reconcile()
    assert again.sync is None
    assert cluster.calls == Counter(versions=3)  # ConfigMap, Service, Deployment in one namespace: no list, no get
    before = {d.key: d for d in settle.diff.resources}
    assert all(d is before[d.key] for d in again.diff.resources)  # not compared again: the same comparisons


def test_a_changed_object_is_read_again_and_healed(folder):
    cluster = CountingCluster()
    app = make_app(folder, cluster)
    app.reconcile()
    app.reconcile()
    cluster.edit(DEPLOYMENT, lambda d: d["spec"].update(replicas=7))
    cluster.calls.clear()
    healed = app.reconcile()
    assert cluster.calls["get"] >= 1
    assert cluster.calls["list"] == 0
    assert healed.sync is not None
    assert [r.key for r in healed.sync.resources if "configured" in r.message] == [DEPLOYMENT]
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == 2


def test_an_object_given_our_annotation_later_is_found_as_a_read_of_everything_would(folder):
    cluster = CountingCluster()
    app = make_app(folder, cluster)
    app.reconcile()
    stray = rc.ResourceKey("", "ConfigMap", "shop", "stray")
    cluster.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray", "namespace": "shop"}})
    assert app.reconcile().sync_status is rc.SyncStatus.SYNCED  # not ours: unseen
    cluster.edit(
        stray,
        lambda c: (
            c["metadata"].setdefault("annotations", {}).update({TRACKING_ANNOTATION: "guestbook:/ConfigMap:shop/stray"})
        ),
    )
    result = app.reconcile()
    assert cluster.get(stray) is None  # now it says it is ours, and Git does not hold it: pruned
    assert any(r.key == stray and r.result is rc.ResultCode.PRUNED for r in result.resources)


def test_many_apps_read_their_own_namespaces_only(folder):
    cluster = CountingCluster()
    apps = [make_app(folder, cluster, name=f"app-{i}", namespace=f"team-{i}") for i in range(3)]
    for app in apps:
        app.reconcile()
    assert cluster.calls["select"] == 3  # each first pass picked its own objects
    assert cluster.calls["list all"] == 0
    cluster.namespaces.clear()
    apps[1].reconcile()
    assert cluster.namespaces == {"team-1"}


class DryRunCounting(rc.MemoryCluster):
    """The in-memory cluster, counting dry-run applies."""

    def __init__(self) -> None:
        super().__init__()
        self.dry_runs = 0

    def apply(self, manifest: Any, **kwargs: Any) -> dict[str, Any]:
        self.dry_runs += bool(kwargs.get("dry_run"))
        return super().apply(manifest, **kwargs)


def test_a_new_render_of_the_same_text_is_neither_dry_run_nor_compared_again():
    cluster = DryRunCounting()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    rendered = rc.DirectoryRenderer().render(rc.DirectorySource(GUESTBOOK).fetch())
    targets = [
        Resource.from_manifest({**r.manifest, "metadata": {**r.manifest["metadata"], "namespace": "shop"}})
        for r in rendered
    ]
    for target in targets:
        cluster.apply(target.manifest, field_manager="reconcile")
    differ = ArgoDiffer()

    def live() -> dict[rc.ResourceKey, Any]:
        return {t.key: cluster.get(t.key) for t in targets}

    first = differ.diff(targets, live(), cluster=cluster)
    asked = cluster.dry_runs
    assert asked == len(targets)
    again = differ.diff(targets, live(), cluster=cluster)  # the same objects: reused by identity
    assert [a is b for a, b in zip(again.resources, first.resources, strict=True)] == [True] * len(targets)
    copies = [Resource.from_manifest(dict(t.manifest)) for t in targets]
    renewed = differ.diff(copies, live(), cluster=cluster)  # new objects of the same text: by the memo
    assert cluster.dry_runs == asked
    assert [a is b for a, b in zip(renewed.resources, first.resources, strict=True)] == [True] * len(targets)
    cluster.edit(targets[0].key, lambda obj: obj["metadata"].setdefault("labels", {}).update(touched="yes"))
    changed = differ.diff(copies, live(), cluster=cluster)
    assert cluster.dry_runs == asked + 1  # only the object whose live version changed is asked about again
    assert changed.resources[0] is not first.resources[0]
    assert all(a is b for a, b in zip(changed.resources[1:], first.resources[1:], strict=True))


class WriteCounting(DryRunCounting):
    """Also counts the applies that write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def apply(self, manifest: Any, **kwargs: Any) -> dict[str, Any]:
        self.writes += not kwargs.get("dry_run")
        return super().apply(manifest, **kwargs)


def test_a_change_in_git_to_one_object_is_one_dry_run_and_one_write(folder):
    cluster = WriteCounting()
    app = make_app(folder, cluster)
    app.reconcile()
    app.reconcile()
    cluster.dry_runs = cluster.writes = 0
    (folder / "deployment.yaml").write_text(
        (folder / "deployment.yaml").read_text().replace("replicas: 2", "replicas: 3")
    )
    planned = [t.notes() for t in app.plan().tasks if t.key == DEPLOYMENT]
    assert planned == ["out of sync; dry-run passed in the comparison"]
    changed = app.reconcile()
    assert changed.sync is not None
    assert changed.sync.succeeded
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == 3
    # The comparison's server-side dry run is the very request the sync's dry run would send: it is not sent twice.
    assert (cluster.dry_runs, cluster.writes) == (1, 1)
    plan_notes = [t.notes() for t in app.plan().tasks if t.key == DEPLOYMENT]
    assert plan_notes == ["in sync"]


def test_a_sync_that_keeps_live_values_dry_runs_what_it_sends(folder):
    cluster = WriteCounting()
    app = rc.Reconciler(
        name="guestbook",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace="shop",
        policy=rc.SyncPolicy(automated=True, sync_options=("CreateNamespace=true", "RespectIgnoreDifferences=true")),
        ignore_differences=[{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
    )
    app.reconcile()
    app.reconcile()
    cluster.dry_runs = cluster.writes = 0
    (folder / "deployment.yaml").write_text(
        (folder / "deployment.yaml").read_text().replace("containerPort: 80", "containerPort: 8080")
    )
    # Planned with the live replicas kept: not the object the comparison dry-ran.
    validated = [t.validated for t in app.plan().tasks if t.key == DEPLOYMENT]
    assert validated == [False]
    assert cluster.dry_runs == 1  # the comparison's
    result = app.reconcile()
    assert result.sync is not None
    assert result.sync.succeeded
    assert cluster.dry_runs == 2  # and the sync's own, of the object it sends


def test_many_changed_objects_of_a_kind_are_listed_not_read_one_by_one(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    (folder / "maps.yaml").write_text(
        "---\n".join(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: map-{i}}}\ndata: {{index: '{i}'}}\n" for i in range(30)
        )
    )
    cluster = CountingCluster()
    app = make_app(folder, cluster)
    app.reconcile()
    app.reconcile()
    for i in range(20):  # a controller touched many of them at once
        cluster.edit(
            rc.ResourceKey("", "ConfigMap", "shop", f"map-{i}"),
            lambda c: c.setdefault("metadata", {}).setdefault("labels", {}).update(seen="yes"),
        )
    cluster.calls.clear()
    result = app.reconcile()
    assert cluster.calls["list"] == 1
    assert cluster.calls["get"] == 0
    assert result.sync_status is rc.SyncStatus.SYNCED  # labels Git does not set are not drift
    for i in (2, 25):
        key = rc.ResourceKey("", "ConfigMap", "shop", f"map-{i}")
        assert result.diff[key].live == cluster.get(key)


class KeyRecording(CountingCluster):
    """Also records the keys read one by one."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[rc.ResourceKey] = []

    def get(self, key: rc.ResourceKey, *, api_version: str | None = None) -> dict[str, Any] | None:
        self.read.append(key)
        return super().get(key, api_version=api_version)


def test_the_state_after_a_sync_is_taken_from_the_servers_answers_not_read_again(folder):
    cluster = KeyRecording()
    app = make_app(folder, cluster)
    first = app.reconcile()
    assert first.sync is not None
    assert first.sync.succeeded
    answers = {r.key: r.stored for r in first.sync.resources if r.stored is not None}
    namespace = rc.ResourceKey("", "Namespace", "", "shop")
    assert set(answers) == {namespace, *(r.key for r in first.resources)}  # CreateNamespace's, and the app's
    # After the sync the pass asked for versions only: every object it wrote is the server's answer at the version
    # the server holds. (The namespace is read for CreateNamespace and its health; the namespace's CA ConfigMap,
    # made by the server's controllers, is read once to learn it is not the app's.)
    assert not set(cluster.read) & (set(answers) - {namespace})
    assert cluster.calls["list"] == 0
    assert cluster.calls["select"] == 1
    assert first.sync_status is rc.SyncStatus.SYNCED
    for key, answer in answers.items():
        assert cluster.get(key) == answer


def test_after_healing_one_object_only_it_is_compared_again(folder):
    cluster = KeyRecording()
    app = make_app(folder, cluster)
    app.reconcile()
    settled = app.reconcile()
    cluster.edit(DEPLOYMENT, lambda d: d["spec"].update(replicas=7))
    cluster.calls.clear()
    cluster.read.clear()
    healed = app.reconcile()
    assert healed.sync is not None
    assert [r.key for r in healed.sync.resources] == [DEPLOYMENT]
    assert healed.sync_status is rc.SyncStatus.SYNCED
    # The drifted Deployment was read once, before the sync (and the namespace, for CreateNamespace); after it,
    # versions only: the sync's answer is the state.
    assert cluster.read == [DEPLOYMENT, rc.ResourceKey("", "Namespace", "", "shop")]
    assert cluster.calls["list"] == 0
    before = {d.key: d for d in settled.diff.resources}
    assert [d.key for d in healed.resources if d.key != DEPLOYMENT]
    assert healed.diff[DEPLOYMENT].modified  # the comparison that triggered the heal
    final = app.diff()
    assert not final.modified
    assert all(final[key] is before[key] for key in before if key != DEPLOYMENT)


class MeddlingCluster(rc.MemoryCluster):
    """Someone else edits the ConfigMap while the sync applies the Deployment."""

    def apply(self, manifest: Any, **kwargs: Any) -> dict[str, Any]:
        answer = super().apply(manifest, **kwargs)
        if not kwargs.get("dry_run") and manifest.get("kind") == "Deployment":
            banner = rc.ResourceKey("", "ConfigMap", "shop", "guestbook-banner")
            self.edit(banner, lambda c: c["data"].update(theme="dark"))
        return answer


def test_a_write_by_someone_else_during_the_sync_is_in_the_state_it_left(folder):
    cluster = MeddlingCluster()
    app = make_app(folder, cluster)
    app.reconcile()
    app.reconcile()
    cluster.edit(DEPLOYMENT, lambda d: d["spec"].update(replicas=7))
    healed = app.reconcile()
    assert healed.sync is not None
    banner = rc.ResourceKey("", "ConfigMap", "shop", "guestbook-banner")
    assert healed.sync_status is rc.SyncStatus.OUT_OF_SYNC  # read again: the ConfigMap drifted meanwhile
    assert {r.key: r.status for r in healed.resources}[banner] is rc.SyncStatus.OUT_OF_SYNC
