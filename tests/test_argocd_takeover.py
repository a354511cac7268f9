"""Taking over an application from Argo CD (its tracking, by annotation or label), and orphaned resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.argocd.tracking import ARGOCD_INSTANCE_LABEL, ARGOCD_TRACKING_ANNOTATION, ArgoCDTracking, OrphanIgnore
from support import eventually

WEB = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "nginx"}]}},
    },
}


def _config_map(name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": {}}


def _tracked(obj: dict[str, Any], app: str, method: str) -> dict[str, Any]:
    """``obj`` as Argo CD left it, tracked for ``app`` by ``method``."""
    tracked = json.loads(json.dumps(obj))
    metadata = tracked["metadata"]
    if "label" in method:
        metadata.setdefault("labels", {})[ARGOCD_INSTANCE_LABEL] = app
    if "annotation" in method:
        key = rc.ResourceKey.from_manifest(tracked)
        value = f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"
        metadata.setdefault("annotations", {})[ARGOCD_TRACKING_ANNOTATION] = value
    return tracked


def _cluster_left_by_argocd(cluster: rc.protocols.Cluster, namespace: str, method: str) -> None:
    """What an Argo CD installation leaves: guestbook's web and old-config, another app's ConfigMap, a stray one."""
    cluster.apply(_tracked({**WEB, "metadata": {"name": "web", "namespace": namespace}}, "guestbook", method))
    cluster.apply(_tracked(_config_map("old-config", namespace), "guestbook", method))
    cluster.apply(_tracked(_config_map("theirs", namespace), "other-app", method))
    cluster.apply(_config_map("stray", namespace))


def _app(cluster: rc.protocols.Cluster, folder: Path, namespace: str, adopt: ArgoCDTracking | None) -> rc.Reconciler:
    folder.mkdir(exist_ok=True)
    (folder / "web.yaml").write_text(json.dumps(WEB))
    return rc.Reconciler(
        name="guestbook",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace=namespace,
        policy=rc.SyncPolicy(prune=True),
        adopt=adopt,
    )


def _check_takeover(cluster: rc.protocols.Cluster, namespace: str, tmp_path: Path, method: str) -> None:
    _cluster_left_by_argocd(cluster, namespace, method)
    key = lambda kind, name: rc.ResourceKey("apps" if kind == "Deployment" else "", kind, namespace, name)  # noqa: E731

    # Without saying which Argo CD app it takes over, nothing Argo CD tracked is pruned.
    plain = _app(cluster, tmp_path / "a", namespace, None)
    assert plain.sync().succeeded
    assert cluster.get(key("ConfigMap", "old-config")) is not None

    adopting = _app(cluster, tmp_path / "b", namespace, ArgoCDTracking("guestbook", method=method))
    assert {d.key.name for d in adopting.diff().resources if d.requires_pruning} == {"old-config"}
    result = adopting.sync()
    assert result.succeeded, result
    # guestbook's, gone from Git: pruned (a foreground deletion ends when the garbage collector has run)
    eventually(lambda: cluster.get(key("ConfigMap", "old-config")) is None, what="old-config to be deleted")
    assert cluster.get(key("ConfigMap", "theirs")) is not None  # another Argo CD app's: never ours
    assert cluster.get(key("ConfigMap", "stray")) is not None  # nobody's: never ours
    web = cluster.get(key("Deployment", "web"))
    assert rc.argocd.tracking.owner(web) == "guestbook"  # our own tracking from this apply on

    assert adopting.orphans() == (key("ConfigMap", "stray"),)
    assert adopting.orphans(ignore=[{"group": "", "kind": "ConfigMap", "name": "st*"}]) == ()
    assert adopting.orphans(ignore=[OrphanIgnore(kind="ConfigMap")]) == ()


@pytest.mark.parametrize("method", ["annotation", "label", "annotation+label"])
def test_an_argo_cd_application_is_taken_over_in_memory(tmp_path, method):
    cluster = rc.MemoryCluster()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    _check_takeover(cluster, "shop", tmp_path, method)


@pytest.mark.integration
def test_an_argo_cd_application_is_taken_over_on_the_real_control_plane(kube_cluster, kube_namespace, tmp_path):
    _check_takeover(kube_cluster, kube_namespace, tmp_path, "annotation")


def test_a_copied_annotation_does_not_make_an_object_the_adopted_apps():
    copied = _tracked(_config_map("copy", "shop"), "guestbook", "annotation")
    copied["metadata"]["name"] = "renamed"  # the annotation names another identity now
    assert ArgoCDTracking("guestbook").owner(copied) is None
    assert rc.argocd.tracking.orphans([copied]) == (rc.ResourceKey("", "ConfigMap", "shop", "renamed"),)


def test_the_namespaces_own_objects_and_children_are_never_orphans():
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "shop"}},
        _config_map("kube-root-ca.crt", "shop"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "default"}},
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e.1", "namespace": "shop"}},
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": "web-1",
                "namespace": "shop",
                "ownerReferences": [{"kind": "Deployment", "name": "web"}],
            },
        },
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubernetes", "namespace": "shop"}},
    ]
    assert rc.argocd.tracking.orphans(objects) == (rc.ResourceKey("", "Service", "shop", "kubernetes"),)
