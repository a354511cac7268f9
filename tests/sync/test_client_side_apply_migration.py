"""Taking over from ``kubectl apply``: the client-side manager's fields become ours before a server-side apply.

Without the takeover (Argo CD's ``ClientSideApplyMigration``, on by default), a field removed from Git stays live
for ever: ``kubectl-client-side-apply`` still owns it, so our apply does not remove it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.apiserver import fields

CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings", "labels": {"team": "web", "legacy": "yes"}},
    "data": {"mode": "fast", "retired": "1"},
}


def _desired(namespace: str) -> dict[str, Any]:
    """What Git holds now: ``legacy`` and ``retired`` are gone."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": namespace, "labels": {"team": "web"}},
        "data": {"mode": "fast"},
    }


def _app(cluster: rc.protocols.Cluster, folder: Path, namespace: str, *options: str, manager: str | None = None):
    folder.mkdir(exist_ok=True)
    (folder / "settings.yaml").write_text(json.dumps(_desired(namespace)))
    policy = rc.SyncPolicy(sync_options=options)
    if manager is not None:
        policy = rc.SyncPolicy(sync_options=options, client_side_apply_migration_manager=manager)
    return rc.Reconciler(
        name="settings-app",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace=namespace,
        policy=policy,
    )


def _check_takeover(cluster: rc.protocols.Cluster, namespace: str, tmp_path: Path) -> None:
    key = rc.ResourceKey("", "ConfigMap", namespace, "settings")
    before = cluster.get(key)
    assert fields.owned_fields(before, "kubectl-client-side-apply", "Update")  # kubectl apply wrote it

    result = _app(cluster, tmp_path / "git", namespace).sync()
    assert result.succeeded, result
    live = cluster.get(key)
    assert live["data"] == {"mode": "fast"}
    assert live["metadata"]["labels"] == {"team": "web"}
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (live["metadata"].get("annotations") or {})
    managers = {(e["manager"], e["operation"]) for e in live["metadata"]["managedFields"]}
    assert ("kubectl-client-side-apply", "Update") not in managers
    assert ("reconcile", "Apply") in managers
    again = _app(cluster, tmp_path / "git", namespace).reconcile()
    assert again.sync_status is rc.SyncStatus.SYNCED


def _check_without_takeover(cluster: rc.protocols.Cluster, namespace: str, tmp_path: Path) -> None:
    key = rc.ResourceKey("", "ConfigMap", namespace, "settings")
    result = _app(cluster, tmp_path / "off", namespace, "ClientSideApplyMigration=false").sync()
    assert result.succeeded, result
    live = cluster.get(key)
    assert live["data"] == {"mode": "fast", "retired": "1"}  # the old owner keeps what Git dropped
    assert live["metadata"]["labels"] == {"team": "web", "legacy": "yes"}


@pytest.mark.integration
def test_an_object_made_by_kubectl_apply_is_taken_over_and_a_field_removed_from_git_goes(
    control_plane, kube_cluster, kube_namespace, kubectl_binary, tmp_path
):
    manifest = tmp_path / "settings.json"
    manifest.write_text(json.dumps(CONFIG))
    kubectl = [kubectl_binary, f"--kubeconfig={control_plane.kubeconfig}", "-n", kube_namespace]
    subprocess.run([*kubectl, "apply", "-f", str(manifest)], check=True, capture_output=True)
    _check_takeover(kube_cluster, kube_namespace, tmp_path)


@pytest.mark.integration
def test_with_the_migration_off_the_fields_kubectl_owns_stay(
    control_plane, kube_cluster, kube_namespace, kubectl_binary, tmp_path
):
    manifest = tmp_path / "settings.json"
    manifest.write_text(json.dumps(CONFIG))
    kubectl = [kubectl_binary, f"--kubeconfig={control_plane.kubeconfig}", "-n", kube_namespace]
    subprocess.run([*kubectl, "apply", "-f", str(manifest)], check=True, capture_output=True)
    _check_without_takeover(kube_cluster, kube_namespace, tmp_path)


def _memory_with_kubectl_apply(manager: str = "kubectl-client-side-apply") -> rc.MemoryCluster:
    """What ``kubectl apply`` leaves on a new object: the last-applied annotation, ``manager`` owning all (Update)."""
    cluster = rc.MemoryCluster()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}})
    obj = json.loads(json.dumps(CONFIG))
    obj["metadata"]["namespace"] = "web"
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(obj)}
    cluster.create(obj, field_manager=manager)
    return cluster


def test_the_takeover_in_memory(tmp_path):
    _check_takeover(_memory_with_kubectl_apply(), "web", tmp_path)


def test_no_takeover_in_memory_when_turned_off(tmp_path):
    _check_without_takeover(_memory_with_kubectl_apply(), "web", tmp_path)


def test_the_application_annotation_names_another_manager_to_take_over(tmp_path):
    cluster = _memory_with_kubectl_apply(manager="old-operator")
    key = rc.ResourceKey("", "ConfigMap", "web", "settings")
    default = _app(cluster, tmp_path / "a", "web").sync()
    assert default.succeeded
    assert cluster.get(key)["data"]["retired"] == "1"  # old-operator is not kubectl: not taken over by default
    app = rc.Application.from_manifest(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": "settings-app",
                "annotations": {"argocd.argoproj.io/client-side-apply-migration-manager": "old-operator"},
            },
            "spec": {
                "source": {"repoURL": "https://git.example.com/x.git", "path": "."},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
            },
        },
        {"in-cluster": cluster},
        local=tmp_path / "a",
    )
    assert app.policy.options.migration_manager == "old-operator"
    assert app.sync().succeeded
    assert "retired" not in cluster.get(key)["data"]
