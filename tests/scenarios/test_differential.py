"""One scenario suite, run on the in-memory cluster and on the real control plane, expecting the same observations.

Where the two answer differently, the memory model is what gets fixed.
"""

from __future__ import annotations

import reconcile as rc

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports: [{containerPort: 80}]
          resources: {limits: {cpu: 500m, memory: 128Mi}}
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
"""
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  title: Guestbook
  theme: light
"""


def results(sync: rc.sync.SyncResult) -> list[tuple[str, str, str]]:
    return [(r.key.kind, str(r.status), r.message) for r in sync.resources]


def test_first_sync_then_nothing_to_do(env):
    env.write("deployment.yaml", DEPLOYMENT)
    env.write("service.yaml", SERVICE)
    env.write("configmap.yaml", CONFIGMAP)
    app = env.app(automated=True, self_heal=True)

    first = app.reconcile()

    assert first.error is None
    assert results(first.sync) == [
        ("ConfigMap", "Synced", "configmap/settings created"),
        ("Service", "Synced", "service/web created"),
        ("Deployment", "Synced", "deployment.apps/web created"),
    ]
    assert first.sync_status is rc.SyncStatus.SYNCED
    # Server defaults (strategy, protocol, clusterIP, imagePullPolicy...) are not drift.
    second = app.reconcile()
    assert second.sync is None
    assert second.sync_status is rc.SyncStatus.SYNCED
    live = env.cluster.get(env.key("", "Service", "web"))
    assert live["spec"]["ports"][0]["protocol"] == "TCP"
    assert live["spec"]["type"] == "ClusterIP"


def test_drift_is_reported_and_self_healed(env):
    env.write("deployment.yaml", DEPLOYMENT)
    app = env.app(automated=True, self_heal=True)
    app.reconcile()
    deployment = env.key("apps", "Deployment", "web")

    env.cluster.patch(deployment, {"spec": {"replicas": 5}}, field_manager="kubectl-patch")

    assert [str(c) for c in app.diff()[deployment].changes] == ["~ /spec/replicas: 5 -> 2"]
    healed = app.reconcile()
    assert results(healed.sync) == [("Deployment", "Synced", "deployment.apps/web configured")]
    assert env.cluster.get(deployment)["spec"]["replicas"] == 2
    assert app.reconcile().sync is None


def test_a_field_removed_from_git_is_removed_live(env):
    env.write("configmap.yaml", CONFIGMAP)
    app = env.app(automated=True)
    app.reconcile()

    env.write("configmap.yaml", CONFIGMAP.replace("  theme: light\n", ""))
    result = app.reconcile()

    settings = env.key("", "ConfigMap", "settings")
    assert [str(c) for c in result.diff[settings].changes] == ["- /data/theme"]
    assert env.cluster.get(settings)["data"] == {"title": "Guestbook"}
    assert result.sync_status is rc.SyncStatus.SYNCED


def test_prune_deletes_what_left_git_and_keeps_what_is_not_ours(env):
    env.write("configmap.yaml", CONFIGMAP)
    env.write("service.yaml", SERVICE)
    app = env.app(automated=True, prune=True)
    app.reconcile()
    env.cluster.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs", "namespace": env.namespace}},
        field_manager="someone",
    )

    (env.folder / "configmap.yaml").unlink()
    result = app.reconcile()

    # One wave: the reference prunes first, then applies.
    assert results(result.sync) == [
        ("ConfigMap", "Pruned", "pruned"),
        ("Service", "Synced", "service/web unchanged"),
    ]
    env.eventually_gone(env.key("", "ConfigMap", "settings"))
    assert env.cluster.get(env.key("", "ConfigMap", "theirs")) is not None


def test_a_crd_and_its_custom_resources_in_one_sync(env):
    group = f"{env.namespace}.example.com"
    env.write(
        "crd.yaml",
        f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {{type: integer}}
---
apiVersion: {group}/v1
kind: Widget
metadata:
  name: gear
spec:
  size: 3
""",
    )
    crd = rc.ResourceKey("apiextensions.k8s.io", "CustomResourceDefinition", "", f"widgets.{group}")
    env.cleanups.append(lambda: env.cluster.delete(crd))
    app = env.app(automated=True)

    result = app.reconcile()

    assert result.error is None
    assert results(result.sync) == [
        (
            "CustomResourceDefinition",
            "Synced",
            f"customresourcedefinition.apiextensions.k8s.io/widgets.{group} created",
        ),
        ("Widget", "Synced", f"widget.{group}/gear created"),
    ]
    assert env.cluster.get(env.key(group, "Widget", "gear"))["spec"] == {"size": 3}
    assert app.reconcile().sync_status is rc.SyncStatus.SYNCED


def test_the_destination_namespace_is_created_when_asked(env):
    env.write("configmap.yaml", CONFIGMAP)
    target = f"{env.namespace}-new"
    env.cleanups.append(lambda: env.cluster.delete(rc.ResourceKey("", "Namespace", "", target)))

    result = env.app(namespace=target, automated=True, sync_options=["CreateNamespace=true"]).reconcile()

    assert result.error is None
    assert result.sync.succeeded
    assert env.cluster.get(rc.ResourceKey("", "Namespace", "", target)) is not None
    assert env.cluster.get(env.key("", "ConfigMap", "settings", namespace=target)) is not None


def test_objects_in_a_missing_namespace_fail_before_anything_is_written(env):
    env.write("configmap.yaml", CONFIGMAP)
    env.write("service.yaml", SERVICE)
    missing = f"{env.namespace}-missing"

    result = env.app(namespace=missing).sync()

    assert result.phase is rc.OperationPhase.FAILED
    assert {(r.key.kind, r.message) for r in result.resources} == {
        ("ConfigMap", f'namespaces "{missing}" not found'),
        ("Service", f'namespaces "{missing}" not found'),
    }


def test_a_finalizer_holds_a_pruned_object_until_it_is_removed(env):
    env.write(
        "configmap.yaml",
        CONFIGMAP.replace("  name: settings\n", "  name: settings\n  finalizers: [example.com/hold]\n"),
    )
    app = env.app(automated=True, prune=True, allow_empty=True)
    app.reconcile()
    settings = env.key("", "ConfigMap", "settings")

    (env.folder / "configmap.yaml").unlink()
    result = app.reconcile()

    assert results(result.sync) == [("ConfigMap", "Pruned", "pruned")]
    held = env.cluster.get(settings)
    assert held is not None
    assert held["metadata"].get("deletionTimestamp")
    env.cluster.patch(settings, {"metadata": {"finalizers": None}}, field_manager="kubectl-patch")
    env.eventually_gone(settings)


def test_dry_run_writes_nothing(env):
    env.write("configmap.yaml", CONFIGMAP)
    env.write("deployment.yaml", DEPLOYMENT)

    result = env.app().sync(dry_run=True)

    assert result.succeeded
    assert results(result) == [
        ("ConfigMap", "Synced", "configmap/settings created (dry run)"),
        ("Deployment", "Synced", "deployment.apps/web created (dry run)"),
    ]
    assert env.cluster.get(env.key("", "ConfigMap", "settings")) is None
    assert env.cluster.get(env.key("apps", "Deployment", "web")) is None


def test_defaults_inside_atomic_lists_are_not_drift(env):
    env.write(
        "db.yaml",
        """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16", ports: [{containerPort: 5432}]}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
""",
    )
    app = env.app(automated=True, self_heal=True)

    assert app.reconcile().sync.succeeded
    again = app.reconcile()

    assert again.sync is None
    assert again.sync_status is rc.SyncStatus.SYNCED


SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  user: admin
  password: hunter2-hunter2
"""


def test_a_live_change_to_a_secret_written_with_string_data_is_drift_and_heals(env):
    env.write("secret.yaml", SECRET)
    app = env.app(automated=True, self_heal=False)
    assert app.reconcile().sync_status is rc.SyncStatus.SYNCED
    assert app.reconcile().sync is None
    creds = env.key("", "Secret", "creds")

    # kubectl patch secret creds --type=merge -p '{"stringData":{"user":"root"}}'
    env.cluster.patch(creds, {"stringData": {"user": "root"}}, field_manager="kubectl-patch")

    diff = app.diff()
    assert [d.key for d in diff.modified_resources] == [creds]
    (change,) = diff[creds].changes
    assert change.path == "/data/user"
    assert "root" not in diff[creds].unified()
    assert "admin" not in diff[creds].unified()
    healed = env.app(automated=True, self_heal=True).reconcile()
    assert healed.error is None
    assert healed.sync_status is rc.SyncStatus.SYNCED
    live = env.cluster.get(creds)
    assert live["data"]["user"] == "YWRtaW4="  # admin
    assert not app.diff().modified
