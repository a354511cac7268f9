"""The resource tree and the watcher on the real control plane.

The controller-manager makes the ReplicaSets, Pods and EndpointSlices and writes the Events; the test plays the
kubelet. ``kubectl scale`` (the real binary) changes a self-healing app's Deployment, and the watcher heals it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.cluster import CachedCluster
from reconcile.tree import ResourceTree, TreeBuilder
from reconcile.watching import Watcher
from support import eventually

pytestmark = pytest.mark.integration

POD = rc.GroupKind("", "Pod")


def write_app(folder: Path, name: str, *, replicas: int = 2, service: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deployment.yaml").write_text(
        f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{{containerPort: 80}}]
"""
    )
    if service:
        (folder / "service.yaml").write_text(
            f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 80}}]
"""
        )
    (folder / "config.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}-settings}}\ndata: {{mode: fast}}\n"
    )
    return folder


def make_app(folder: Path, cluster: Any, namespace: str, name: str, **options: Any) -> rc.Reconciler:
    return rc.Reconciler(
        name=name,
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace=namespace,
        policy=rc.SyncPolicy(automated=True, self_heal=True, prune=True),
        **options,
    )


def test_the_tree_follows_owners_down_to_pods_with_the_controllers_events(
    tmp_path, kube_cluster, kube_namespace, kubelet
):
    app = make_app(write_app(tmp_path / "web", "web"), kube_cluster, kube_namespace, "web")
    assert app.reconcile().ok
    eventually(lambda: len(kube_cluster.list(POD, namespace=kube_namespace)) == 2, what="two Pods")
    kubelet.run_pods(kube_namespace)

    def healthy_tree() -> ResourceTree | None:
        tree = app.tree()
        slices = tree.find(rc.ResourceKey("", "Service", kube_namespace, "web"))
        ready = tree.root.health is not None and tree.root.health.status is rc.HealthStatus.HEALTHY
        return tree if ready and slices is not None and slices.children else None

    tree = eventually(healthy_tree, what="a Healthy tree with the Service's EndpointSlice")
    deployment = tree.find(rc.ResourceKey("apps", "Deployment", kube_namespace, "web"))
    assert deployment is not None
    assert deployment.managed
    assert deployment.sync_status is rc.SyncStatus.SYNCED
    [replicaset] = deployment.children
    assert replicaset.kind == "ReplicaSet"
    assert not replicaset.managed
    assert replicaset.sync_status is None
    assert replicaset.health is not None
    assert replicaset.health.status is rc.HealthStatus.HEALTHY
    assert [pod.kind for pod in replicaset.children] == ["Pod", "Pod"]
    assert all(pod.health is not None and pod.health.status is rc.HealthStatus.HEALTHY for pod in replicaset.children)
    # The controllers' own events: the deployment controller scaled the ReplicaSet, which created the Pods.
    assert any(e.reason == "ScalingReplicaSet" for e in deployment.events)
    assert any(e.reason == "SuccessfulCreate" for e in replicaset.events)
    service = tree.find(rc.ResourceKey("", "Service", kube_namespace, "web"))
    assert service is not None
    assert [child.kind for child in service.children] == ["EndpointSlice"]

    text = str(tree)
    assert text.splitlines()[0].startswith("web (Application)")
    assert "│  └─ Pod " in text or "   └─ Pod " in text
    assert "\x1b[" not in text
    svg = tree.to_svg()
    assert svg.startswith("<svg")
    assert svg.count("<rect") == 2 * len(list(tree.nodes()))
    data = tree.to_dict()
    assert data["kind"] == "Application"
    assert {child["kind"] for child in data["children"]} == {"ConfigMap", "Service", "Deployment"}

    # A failing Pod is the tree's trouble: Degraded, with its message.
    kubelet.fail_pods(kube_namespace)
    failed = eventually(lambda: [n for n in app.tree().troubled() if n.kind == "Pod"], what="Degraded Pods in the tree")
    assert all(n.health is not None and n.health.status is rc.HealthStatus.DEGRADED for n in failed)


def test_a_deployment_of_many_pods_shows_a_summary_node(tmp_path, kube_cluster, kube_namespace, kubelet):
    app = make_app(
        write_app(tmp_path / "many", "many", replicas=14, service=False), kube_cluster, kube_namespace, "many"
    )
    assert app.reconcile().ok
    eventually(lambda: len(kube_cluster.list(POD, namespace=kube_namespace)) == 14, what="14 Pods")
    kubelet.run_pods(kube_namespace)
    builder = TreeBuilder(kube_cluster, max_children=5, events=False)
    tree = app.tree(max_children=5, events=False)
    replicaset = tree.find(rc.ResourceKey("apps", "Deployment", kube_namespace, "many")).children[0]
    assert len(replicaset.children) == 6
    summary = replicaset.children[-1]
    assert summary.key is None
    assert summary.hidden == 9
    assert summary.summary.startswith("9 more Pod objects: ")
    assert builder.lists == 0  # the builder alone has read nothing yet
    # One LIST per child kind in play (ReplicaSet, Pod) in the app's one namespace, and none for events.
    diff = app.diff()
    builder.build("many", [(d.key, d.live, d.status, None) for d in diff.resources])
    assert builder.lists == 2


def test_watch_heals_a_kubectl_scale_within_seconds_and_runs_no_unrelated_app(
    tmp_path, control_plane, kube_cluster, kube_namespace, kubectl_binary
):
    with CachedCluster(kube_cluster) as cached:
        healing = make_app(write_app(tmp_path / "heal", "heal", service=False), cached, kube_namespace, "heal")
        other = tmp_path / "other"
        other.mkdir()
        (other / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n")
        unrelated = make_app(other, cached, kube_namespace, "unrelated")
        seen: list[rc.ReconcileResult] = []
        with Watcher([healing, unrelated], interval=3600, debounce=0.1, on_result=seen.append) as watcher:
            assert eventually(lambda: all(watcher.passes.values()), what="first passes")
            watcher.wait_idle(30)
            before = dict(watcher.passes)
            started = time.monotonic()
            subprocess.run(
                [
                    kubectl_binary,
                    f"--kubeconfig={control_plane.kubeconfig}",
                    "-n",
                    kube_namespace,
                    "scale",
                    "deployment/heal",
                    "--replicas=5",
                ],
                check=True,
                capture_output=True,
            )
            key = rc.ResourceKey("apps", "Deployment", kube_namespace, "heal")

            def healed() -> bool:
                live = kube_cluster.get(key)
                return live is not None and live["spec"]["replicas"] == 2

            eventually(lambda: kube_cluster.get(key)["spec"]["replicas"] == 5 or healed(), what="the scale")
            eventually(healed, timeout=30, what="the heal")
            took = time.monotonic() - started
            watcher.wait_idle(30)
            after = dict(watcher.passes)
        assert took < 10  # generous: it takes about a second here
        assert after["unrelated"] == before["unrelated"]
        assert after["heal"] > before["heal"]
        assert any(r.sync is not None and r.app == "heal" for r in seen[len(before) :])
