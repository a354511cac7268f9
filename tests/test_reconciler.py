"""The whole pipeline on the in-memory cluster: create, drift, heal, prune, and every refusal."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import structlog

import reconcile as rc
from reconcile.argocd.tracking import TRACKING_ANNOTATION

GUESTBOOK = Path(__file__).parents[1] / "examples" / "guestbook"
DEPLOYMENT = rc.ResourceKey("apps", "Deployment", "default", "guestbook-ui")
SERVICE = rc.ResourceKey("", "Service", "default", "guestbook-ui")
CONFIGMAP = rc.ResourceKey("", "ConfigMap", "default", "guestbook-banner")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(GUESTBOOK, app)
    return app


@pytest.fixture
def cluster() -> rc.MemoryCluster:
    return rc.MemoryCluster()


def make_app(folder: Path, cluster: rc.MemoryCluster, ignore_differences=(), **policy: Any) -> rc.Reconciler:
    return rc.Reconciler(
        name="guestbook",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace="default",
        policy=rc.SyncPolicy(**policy),
        ignore_differences=ignore_differences,
    )


def by_key(result: rc.ReconcileResult) -> dict[rc.ResourceKey, rc.ResourceStatus]:
    return {r.key: r for r in result.resources}


def test_first_automated_pass_creates_everything_in_kind_order(folder, cluster):
    result = make_app(folder, cluster, automated=True).reconcile()

    assert result.error is None
    assert result.sync_status is rc.SyncStatus.SYNCED
    assert result.sync is not None
    assert result.sync.phase is rc.OperationPhase.SUCCEEDED
    assert [r.key.kind for r in result.sync.resources] == ["ConfigMap", "Service", "Deployment"]
    assert [r.message for r in result.sync.resources] == [
        "configmap/guestbook-banner created",
        "service/guestbook-ui created",
        "deployment.apps/guestbook-ui created",
    ]
    statuses = by_key(result)
    assert statuses[DEPLOYMENT].status is rc.SyncStatus.SYNCED
    assert statuses[DEPLOYMENT].action is rc.SyncAction.CREATE
    assert statuses[DEPLOYMENT].result is rc.ResultCode.SYNCED
    live = cluster.get(DEPLOYMENT)
    assert live is not None
    assert live["spec"]["replicas"] == 2
    assert live["metadata"]["annotations"][TRACKING_ANNOTATION] == "guestbook:apps/Deployment:default/guestbook-ui"
    assert len(result.revision.sha) == 40


def test_a_manual_policy_only_reports(folder, cluster):
    result = make_app(folder, cluster).reconcile()

    assert result.sync is None
    assert result.sync_status is rc.SyncStatus.OUT_OF_SYNC
    assert {r.action for r in result.resources} == {rc.SyncAction.CREATE}
    assert by_key(result)[SERVICE].message == "missing from the cluster"
    assert cluster.get(SERVICE) is None


def test_an_unchanged_second_pass_writes_nothing(folder, cluster):
    app = make_app(folder, cluster, automated=True, self_heal=True)
    app.reconcile()
    versions = {k: cluster.get(k)["metadata"]["resourceVersion"] for k in (DEPLOYMENT, SERVICE, CONFIGMAP)}

    second = app.reconcile()

    assert second.sync is None
    assert second.sync_status is rc.SyncStatus.SYNCED
    assert {r.action for r in second.resources} == {rc.SyncAction.NONE}
    assert {k: cluster.get(k)["metadata"]["resourceVersion"] for k in versions} == versions


def test_drift_is_shown_and_self_healed(folder, cluster):
    app = make_app(folder, cluster, automated=True, self_heal=True)
    app.reconcile()
    cluster.patch(DEPLOYMENT, {"spec": {"replicas": 5}})

    drift = app.diff()
    assert drift.modified
    assert [str(c) for c in drift[DEPLOYMENT].changes] == ["~ /spec/replicas: 5 -> 2"]
    assert "-  replicas: 5" in drift.unified()
    assert "+  replicas: 2" in drift.unified()

    healed = app.reconcile()
    assert healed.sync is not None
    assert by_key(healed)[DEPLOYMENT].message == "deployment.apps/guestbook-ui configured"
    # Self-heal syncs the drifted objects only, as Argo CD's does: the Service is not part of the operation.
    assert [r.key for r in healed.sync.resources] == [DEPLOYMENT]
    assert by_key(healed)[SERVICE].result is None
    assert by_key(healed)[SERVICE].status is rc.SyncStatus.SYNCED
    assert healed.sync_status is rc.SyncStatus.SYNCED
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == 2


def test_self_heal_runs_no_hooks_and_prunes_what_left(folder, cluster):
    (folder / "migrate.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: migrate\n  annotations:\n"
        "    argocd.argoproj.io/hook: PreSync\n"
    )
    app = make_app(folder, cluster, automated=True, self_heal=True, prune=True)
    first = app.reconcile()
    hook = rc.ResourceKey("", "ConfigMap", "default", "migrate")
    assert any(r.key == hook for r in first.sync.resources)
    cluster.delete(hook)
    stray = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "stray",
            "namespace": "default",
            "annotations": {TRACKING_ANNOTATION: "guestbook:/ConfigMap:default/stray"},
        },
    }
    cluster.create(stray)
    cluster.patch(DEPLOYMENT, {"spec": {"replicas": 5}})
    healed = app.reconcile()
    assert healed.sync is not None
    assert sorted(str(r.key) for r in healed.sync.resources) == sorted([str(DEPLOYMENT), "ConfigMap/default/stray"])
    assert cluster.get(hook) is None  # a selective sync runs no hooks
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "stray")) is None
    assert healed.sync_status is rc.SyncStatus.SYNCED


def test_without_self_heal_drift_waits_for_a_new_revision(folder, cluster):
    app = make_app(folder, cluster, automated=True)
    app.reconcile()
    cluster.patch(DEPLOYMENT, {"spec": {"replicas": 5}})

    stays = app.reconcile()
    assert stays.sync is None
    assert stays.sync_status is rc.SyncStatus.OUT_OF_SYNC
    assert by_key(stays)[DEPLOYMENT].message == "differs at /spec/replicas"
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == 5

    (folder / "configmap.yaml").write_text((folder / "configmap.yaml").read_text().replace("light", "dark"))
    synced = app.reconcile()
    assert synced.sync is not None
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == 2
    assert cluster.get(CONFIGMAP)["data"]["theme"] == "dark"


def test_a_field_removed_from_git_is_removed_live(folder, cluster):
    app = make_app(folder, cluster, automated=True)
    app.reconcile()
    (folder / "configmap.yaml").write_text((folder / "configmap.yaml").read_text().replace("  theme: light\n", ""))

    result = app.reconcile()

    assert [str(c) for c in result.diff[CONFIGMAP].changes] == ["- /data/theme"]
    assert cluster.get(CONFIGMAP)["data"] == {"title": "Guestbook"}


def test_objects_that_left_git_are_pruned_only_with_prune(folder, cluster):
    app = make_app(folder, cluster, automated=True)
    app.reconcile()
    (folder / "configmap.yaml").unlink()

    # Only pruning would help and pruning is off: the automated policy does not sync.
    waiting = app.reconcile()
    assert waiting.sync is None
    assert waiting.sync_status is rc.SyncStatus.OUT_OF_SYNC
    assert by_key(waiting)[CONFIGMAP].action is rc.SyncAction.PRUNE

    explicit = app.sync()
    assert {r.key: (r.status, r.message) for r in explicit.resources}[CONFIGMAP] == (
        rc.ResultCode.PRUNE_SKIPPED,
        "ignored (requires pruning)",
    )
    assert cluster.get(CONFIGMAP) is not None

    pruned = app.sync(prune=True)
    assert {r.key: (r.status, r.message) for r in pruned.resources}[CONFIGMAP] == (
        rc.ResultCode.PRUNED,
        "pruned",
    )
    assert cluster.get(CONFIGMAP) is None
    assert app.reconcile().sync_status is rc.SyncStatus.SYNCED


def test_prune_never_touches_objects_the_app_does_not_own(folder, cluster):
    app = make_app(folder, cluster, automated=True, prune=True)
    app.reconcile()
    foreign = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "theirs", "namespace": "default"},
    }
    other_app = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "other",
            "namespace": "default",
            "annotations": {TRACKING_ANNOTATION: "other:/ConfigMap:default/other"},
        },
    }
    copied = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "copied",
            "namespace": "default",
            # The annotation of one of our objects, copied onto another: not ours.
            "annotations": {TRACKING_ANNOTATION: "guestbook:/ConfigMap:default/guestbook-banner"},
        },
    }
    for obj in (foreign, other_app, copied):
        cluster.create(obj, field_manager="someone")
    (folder / "configmap.yaml").unlink()

    result = app.reconcile()

    assert [r.key for r in result.sync.resources if r.action is rc.SyncAction.PRUNE] == [CONFIGMAP]
    for name in ("theirs", "other", "copied"):
        assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", name)) is not None
    assert cluster.get(CONFIGMAP) is None


def test_prune_false_annotation_keeps_the_object(folder, cluster):
    text = (folder / "configmap.yaml").read_text()
    (folder / "configmap.yaml").write_text(
        text.replace(
            "  name: guestbook-banner\n",
            "  name: guestbook-banner\n  annotations:\n    argocd.argoproj.io/sync-options: Prune=false\n",
        )
    )
    app = make_app(folder, cluster, automated=True, prune=True)
    app.reconcile()
    (folder / "configmap.yaml").unlink()

    result = app.sync()

    assert {r.key: r.message for r in result.resources}[CONFIGMAP] == "ignored (no prune)"
    assert cluster.get(CONFIGMAP) is not None


def test_an_empty_render_does_not_prune_everything_unless_allowed(folder, cluster):
    app = make_app(folder, cluster, automated=True, prune=True)
    app.reconcile()
    for path in folder.iterdir():
        path.unlink()

    refused = app.reconcile()
    assert isinstance(refused.error, rc.SyncError)
    assert "render is empty" in str(refused.error)
    assert refused.sync_status is rc.SyncStatus.OUT_OF_SYNC
    assert cluster.get(DEPLOYMENT) is not None

    allowed = make_app(folder, cluster, automated=True, prune=True, allow_empty=True).reconcile()
    assert allowed.error is None
    assert cluster.get(DEPLOYMENT) is None
    assert cluster.get(SERVICE) is None


def test_an_empty_render_is_synced_and_healthy_with_a_warning(tmp_path, cluster):
    # Argo CD shows such an app with no resources, Synced and Healthy; a wrong path looks just like this: say so.
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("# nothing to deploy\n")
    app = make_app(empty, cluster, automated=True)
    result = app.reconcile()
    assert result.error is None
    assert result.sync_status is rc.SyncStatus.SYNCED
    assert result.health is not None
    assert result.health.status is rc.HealthStatus.HEALTHY
    assert result.resources == ()
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("rendered 0 objects from the source's root folder at ")
    assert app.warnings == result.warnings
    assert "warning: rendered 0 objects" in str(result)
    assert "warning: rendered 0 objects" in result._repr_html_()
    (empty / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n")
    assert app.reconcile().warnings == ()
    assert app.warnings == ()


def test_dry_run_changes_nothing(folder, cluster):
    app = make_app(folder, cluster)

    result = app.sync(dry_run=True)

    assert result.dry_run
    assert result.succeeded
    assert [r.message for r in result.resources] == [
        "configmap/guestbook-banner created (dry run)",
        "service/guestbook-ui created (dry run)",
        "deployment.apps/guestbook-ui created (dry run)",
    ]
    assert cluster.list(rc.GroupKind("apps", "Deployment")) == []


def test_an_invalid_object_stops_the_sync_before_anything_is_written(folder, cluster):
    (folder / "bad.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Valid_Name\n")
    app = make_app(folder, cluster, automated=True)

    result = app.reconcile()

    assert result.sync is not None
    assert result.sync.phase is rc.OperationPhase.FAILED
    failed = result.sync.failed_resources
    assert [r.key.name for r in failed] == ["Not_A_Valid_Name"]
    assert "Not_A_Valid_Name" in failed[0].message
    assert cluster.get(DEPLOYMENT) is None
    assert cluster.get(CONFIGMAP) is None
    with pytest.raises(rc.SyncError, match="Not_A_Valid_Name"):
        result.sync.raise_for_status()


def test_a_failed_automated_sync_is_retried_only_to_self_heal(folder, cluster):
    cluster.fail("apply", key=SERVICE, times=2)
    app = make_app(folder, cluster, automated=True)

    first = app.reconcile()
    assert first.sync is not None
    assert first.sync.phase is rc.OperationPhase.FAILED
    assert first.sync_status is rc.SyncStatus.OUT_OF_SYNC
    assert app.reconcile().sync is None  # same revision, failed before, no self-heal

    healing = make_app(folder, cluster, automated=True, self_heal=True)
    assert healing.reconcile().sync.phase is rc.OperationPhase.FAILED  # the second injected failure
    assert healing.reconcile().sync.phase is rc.OperationPhase.SUCCEEDED
    assert cluster.get(SERVICE) is not None


def test_namespaces_follow_the_destination_and_the_kind_scope(folder, cluster):
    (folder / "role.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n"
        "  namespace: ignored\nrules: []\n"
    )
    app = rc.Reconciler(
        name="guestbook",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace="guestbook",
        policy=rc.SyncPolicy(automated=True, sync_options=["CreateNamespace=true"]),
    )

    result = app.reconcile()

    assert result.error is None, result.error
    assert result.sync.succeeded
    assert cluster.get(rc.ResourceKey("", "Namespace", "", "guestbook")) is not None
    assert cluster.get(rc.ResourceKey("apps", "Deployment", "guestbook", "guestbook-ui")) is not None
    assert cluster.get(rc.ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")) is not None


def test_a_missing_destination_namespace_fails_without_create_namespace(folder, cluster):
    app = rc.Reconciler(
        name="guestbook",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace="nowhere",
    )

    result = app.sync()

    assert result.phase is rc.OperationPhase.FAILED
    assert all('namespaces "nowhere" not found' in r.message for r in result.resources)
    assert cluster.list(rc.GroupKind("", "ConfigMap"), namespace="nowhere") == []


def test_one_object_twice_after_namespace_defaulting_is_a_duplicate(folder, cluster):
    text = (folder / "configmap.yaml").read_text()
    (folder / "copy.yaml").write_text(text.replace("metadata:\n", "metadata:\n  namespace: default\n"))
    app = make_app(folder, cluster, automated=True)

    result = app.reconcile()

    assert isinstance(result.error, rc.errors.DuplicateResourceError)
    assert result.sync_status is rc.SyncStatus.UNKNOWN
    assert "configmap.yaml" in str(result.error)
    assert "copy.yaml" in str(result.error)
    with pytest.raises(rc.errors.DuplicateResourceError):
        app.diff()


def test_source_errors_are_results_from_reconcile_and_raised_by_diff(tmp_path, cluster):
    app = make_app(tmp_path / "absent", cluster, automated=True)

    result = app.reconcile()

    assert isinstance(result.error, rc.errors.PathNotFoundError)
    assert result.sync_status is rc.SyncStatus.UNKNOWN
    assert result.revision is None
    with pytest.raises(rc.errors.PathNotFoundError):
        app.diff()
    with pytest.raises(rc.errors.PathNotFoundError):
        app.sync()


def test_secret_values_never_show_and_string_data_is_not_drift(folder, cluster):
    (folder / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2-secret\n"
    )
    app = make_app(folder, cluster, automated=True, self_heal=True)
    app.reconcile()
    assert not app.diff().modified

    secret = rc.ResourceKey("", "Secret", "default", "creds")
    cluster.patch(secret, {"data": {"password": "Y2hhbmdlZC12YWx1ZQ=="}})
    drift = app.diff()
    assert drift[secret].modified
    shown = drift.unified() + str(drift) + drift._repr_html_()
    for value in ("hunter2-secret", "aHVudGVyMi1zZWNyZXQ=", "Y2hhbmdlZC12YWx1ZQ==", "changed-value"):
        assert value not in shown


def test_a_crd_and_its_custom_resources_sync_together(folder, cluster):
    (folder / "crd.yaml").write_text(
        """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: gear
spec:
  size: 3
"""
    )
    app = make_app(folder, cluster, automated=True)

    result = app.reconcile()

    assert result.error is None
    assert result.sync.succeeded, str(result.sync)
    kinds = [r.key.kind for r in result.sync.resources]
    assert kinds.index("CustomResourceDefinition") < kinds.index("Widget")
    assert cluster.get(rc.ResourceKey("example.com", "Widget", "default", "gear"))["spec"] == {"size": 3}
    assert app.reconcile().sync_status is rc.SyncStatus.SYNCED


def test_logs_are_namespaced_events_bound_to_the_app(folder, cluster):
    with structlog.testing.capture_logs() as logs:
        make_app(folder, cluster, automated=True).reconcile()

    events = [e["event"] for e in logs]
    assert "reconcile.sync.applied" in events
    assert events[-1] == "reconcile.pass.finished"
    assert all(e["app"] == "guestbook" for e in logs)
    applied = [e for e in logs if e["event"] == "reconcile.sync.applied"]
    assert {e["key"] for e in applied} == {str(CONFIGMAP), str(SERVICE), str(DEPLOYMENT)}


def test_results_print_as_a_table(folder, cluster):
    result = make_app(folder, cluster, automated=True).reconcile()

    text = str(result)
    # No controller runs in memory: the Deployment has no ready replicas yet.
    assert text.splitlines()[0].startswith(f"guestbook: Synced, Progressing at {result.revision.short}")
    assert text.splitlines()[1].startswith("health: deployment.apps/guestbook-ui in default is Progressing")
    assert "KIND" in text
    assert "deployment.apps/guestbook-ui created" in text
    assert "<table>" in result._repr_html_()


def test_app_health_is_the_worst_object_and_follows_the_cluster(folder, cluster):
    app = make_app(folder, cluster, automated=True)
    first = app.reconcile()
    assert first.health is not None
    assert first.health.status is rc.HealthStatus.PROGRESSING
    assert {r.key.kind: r.health.status if r.health else None for r in first.resources} == {
        "ConfigMap": None,
        "Service": rc.HealthStatus.HEALTHY,
        "Deployment": rc.HealthStatus.PROGRESSING,
    }
    live = cluster.get(DEPLOYMENT)
    replicas = live["spec"]["replicas"]
    cluster.set_status(
        DEPLOYMENT,
        {
            "observedGeneration": live["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        },
    )

    assert app.reconcile().health == rc.Health(rc.HealthStatus.HEALTHY)


def test_an_invalid_app_name_is_a_configuration_error(folder, cluster):
    with pytest.raises(rc.ConfigurationError, match="application name"):
        rc.Reconciler(
            name="a:b",
            source=rc.DirectorySource(folder),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
        )


@pytest.mark.integration
def test_a_git_repository_end_to_end(tmp_path, cluster):
    repo = rc.testing.LocalRepository.init(tmp_path / "repo.git")
    first = repo.commit_directory(GUESTBOOK, "Add the guestbook", prefix="guestbook")
    app = rc.Reconciler(
        name="guestbook",
        source=rc.GitSource(repo.url, revision="main", path="guestbook", cache_dir=tmp_path / "cache"),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True, prune=True),
    )

    created = app.reconcile()
    assert created.revision.sha == first
    assert created.revision.ref == "main"
    assert created.revision.message == "Add the guestbook"
    assert created.sync_status is rc.SyncStatus.SYNCED

    second = repo.commit({"guestbook/configmap.yaml": None}, "Remove the banner")
    pruned = app.reconcile()
    assert pruned.revision.sha == second
    assert {r.key: r.status for r in pruned.sync.resources}[CONFIGMAP] is rc.ResultCode.PRUNED
    assert cluster.get(CONFIGMAP) is None


def test_server_defaults_inside_atomic_lists_are_not_drift(folder, cluster):
    # volumeClaimTemplates is an atomic list: only the server's own dry run knows the defaults it fills in.
    (folder / "db.yaml").write_text(
        """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""
    )
    app = make_app(folder, cluster, automated=True, self_heal=True)
    app.reconcile()
    live = cluster.get(rc.ResourceKey("apps", "StatefulSet", "default", "db"))
    assert live["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"

    again = app.reconcile()

    assert again.sync_status is rc.SyncStatus.SYNCED
    assert again.sync is None


REPLICAS_RULE = {"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}


def test_ignored_differences_are_neither_reported_nor_healed(folder, cluster):
    app = make_app(folder, cluster, [REPLICAS_RULE], automated=True, self_heal=True)
    app.reconcile()
    cluster.patch(DEPLOYMENT, {"spec": {"replicas": 5}}, field_manager="hpa")

    result = app.reconcile()

    assert result.sync is None
    assert result.sync_status is rc.SyncStatus.SYNCED
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == 5


@pytest.mark.parametrize(("respect", "replicas"), [(True, 5), (False, 2)])
def test_respect_ignore_differences_keeps_live_values_when_a_sync_runs(folder, cluster, respect, replicas):
    options = ["RespectIgnoreDifferences=true"] if respect else []
    app = make_app(folder, cluster, [REPLICAS_RULE], automated=True, sync_options=options)
    app.reconcile()
    cluster.patch(DEPLOYMENT, {"spec": {"replicas": 5}}, field_manager="hpa")
    text = (folder / "deployment.yaml").read_text()
    (folder / "deployment.yaml").write_text(text.replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 4"))

    result = app.reconcile()

    assert result.sync is not None
    assert result.sync.succeeded
    assert cluster.get(DEPLOYMENT)["spec"]["revisionHistoryLimit"] == 4
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == replicas


def test_ignore_differences_go_to_the_differ_the_reconciler_builds(folder, cluster):
    with pytest.raises(rc.ConfigurationError, match="ignore_differences"):
        rc.Reconciler(
            name="guestbook",
            source=rc.DirectorySource(folder),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
            differ=rc.diff.ArgoDiffer(),
            ignore_differences=[REPLICAS_RULE],
        )


def test_system_wide_rules_in_diff_settings_apply_to_every_application(folder, cluster):
    settings = rc.diff.DiffSettings(
        ignore_differences=[{"group": "apps", "kind": "*", "jsonPointers": ["/spec/replicas"]}]
    )
    app = rc.Reconciler(
        name="guestbook",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True, self_heal=True, sync_options=["RespectIgnoreDifferences=true"]),
        diff_settings=settings,
    )
    app.reconcile()
    cluster.patch(DEPLOYMENT, {"spec": {"replicas": 5}}, field_manager="hpa")
    text = (folder / "deployment.yaml").read_text()
    (folder / "deployment.yaml").write_text(text.replace("revisionHistoryLimit: 3", "revisionHistoryLimit: 4"))

    result = app.reconcile()

    assert result.sync is not None
    assert result.sync.succeeded
    # The sync applied the Git change and, respecting the system-wide rule, left the HPA's replicas alone.
    assert cluster.get(DEPLOYMENT)["spec"]["revisionHistoryLimit"] == 4
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == 5
    assert not app.diff().modified_resources
    with pytest.raises(rc.ConfigurationError, match="diff_settings"):
        rc.Reconciler(
            name="guestbook",
            source=rc.DirectorySource(folder),
            renderer=rc.DirectoryRenderer(),
            cluster=cluster,
            differ=rc.diff.ArgoDiffer(),
            diff_settings=settings,
        )


def test_delete_removes_what_the_app_owns_and_nothing_else(folder, cluster):
    app = make_app(folder, cluster, automated=True)
    assert app.reconcile().sync.succeeded
    theirs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs", "namespace": "default"}}
    cluster.create(theirs, field_manager="someone")
    cluster.patch(CONFIGMAP, {"metadata": {"annotations": {"argocd.argoproj.io/sync-options": "Delete=false"}}})

    dry = app.delete(dry_run=True)
    assert dry.succeeded
    assert cluster.get(DEPLOYMENT) is not None

    result = app.delete()

    assert result.succeeded, str(result)
    # Reverse kind order: the Deployment before the Service; the ConfigMap asked to stay.
    assert [(r.key.kind, r.status, r.message) for r in result.resources] == [
        ("Deployment", rc.ResultCode.PRUNED, "deleted"),
        ("Service", rc.ResultCode.PRUNED, "deleted"),
        ("ConfigMap", rc.ResultCode.PRUNE_SKIPPED, "ignored (Delete=false)"),
    ]
    assert cluster.get(DEPLOYMENT) is None
    assert cluster.get(SERVICE) is None
    assert cluster.get(CONFIGMAP) is not None
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "theirs")) is not None


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("deep.yaml", lambda path: path.write_text("data: " + "[" * 30_000 + "]" * 30_000 + "\n")),
        ("deep.json", lambda path: path.write_text('{"data": ' + "[" * 50_000 + "]" * 50_000 + "}")),
        ("loop.yaml", lambda path: (path.symlink_to("loop2.yaml"), (path.parent / "loop2.yaml").symlink_to(path.name))),
    ],
    ids=["deep-yaml", "deep-json", "symlink-loop"],
)
def test_a_hostile_repository_fails_the_pass_without_raising(tmp_path, name, make):
    folder = tmp_path / "app"
    folder.mkdir()
    make(folder / name)
    cluster = rc.MemoryCluster()
    app = rc.Reconciler(
        name="hostile",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True),
    )
    result = app.reconcile()
    assert isinstance(result.error, rc.ManifestError)
    assert name in str(result.error)


def test_a_pass_has_a_deadline_and_says_what_it_was_waiting_for(tmp_path, cluster):
    # The hook never completes (nothing runs Pods here): without a deadline the pass waits health_timeout (300 s).
    (tmp_path / "app.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, annotations: {argocd.argoproj.io/hook: PreSync}}\n"
        "spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
    )
    app = rc.Reconciler(
        name="slow",
        source=rc.DirectorySource(tmp_path),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True),
        pass_timeout=0.5,
    )
    started = time.monotonic()
    result = app.reconcile()
    assert time.monotonic() - started < 10
    assert result.sync is not None
    assert result.sync.phase is rc.OperationPhase.FAILED
    assert result.sync.message == (
        "Operation terminated: the pass's deadline passed, while waiting for completion of hook batch/Job/migrate"
    )
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "settings")) is None
    with pytest.raises(rc.ConfigurationError, match="pass_timeout must be a positive number"):
        rc.Reconciler(name="x", source=app.source, renderer=app.renderer, cluster=cluster, pass_timeout=0)


def test_a_custom_resource_without_its_crd_says_to_install_the_crd(tmp_path, cluster):
    (tmp_path / "widget.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    app = rc.Reconciler(
        name="widgets", source=rc.DirectorySource(tmp_path), renderer=rc.DirectoryRenderer(), cluster=cluster
    )
    result = app.sync()
    assert not result.succeeded
    assert [r.message for r in result.failed_resources] == [
        'no matches for kind "Widget" in version "example.com/v1": install the CustomResourceDefinition for '
        "example.com/Widget on the cluster first (or sync it in an earlier wave of the same application)"
    ]


def test_the_default_differ_is_built_with_the_server_side_choice(folder, cluster):
    app = rc.Reconciler(
        name="local",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        server_side_diff=False,
    )
    assert isinstance(app.differ, rc.diff.ArgoDiffer)
    assert app.differ.server_side is False
    with pytest.raises(rc.ConfigurationError, match="server_side_diff to the differ you pass"):
        rc.Reconciler(
            name="local",
            source=app.source,
            renderer=app.renderer,
            cluster=cluster,
            differ=rc.diff.ArgoDiffer(),
            server_side_diff=False,
        )
