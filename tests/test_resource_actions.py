"""Resource actions on a live application: Argo CD's own scripts (its catalogue), applied to the real control plane."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.errors import ActionError
from reconcile.health import ArgoCDCatalogue, ImpactedResource
from reconcile.testing import LocalRepository

CATALOGUE = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "argocd-resource-customizations"

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
        },
    },
}
CRONJOB = {
    "apiVersion": "batch/v1",
    "kind": "CronJob",
    "metadata": {"name": "nightly"},
    "spec": {
        "schedule": "0 3 * * *",
        "jobTemplate": {
            "spec": {
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
            }
        },
    },
}


@pytest.fixture(scope="module")
def catalogue() -> ArgoCDCatalogue:
    if not CATALOGUE.is_dir():
        pytest.skip(f"Argo CD's resource customizations not found at {CATALOGUE}")
    loaded = ArgoCDCatalogue.load(CATALOGUE)
    yield loaded
    loaded.close()


def _app(cluster: rc.protocols.Cluster, folder: Path, namespace: str, catalogue: ArgoCDCatalogue, *objs: Any):
    folder.mkdir(exist_ok=True)
    (folder / "app.yaml").write_text("\n---\n".join(json.dumps(obj) for obj in objs))
    return rc.Reconciler(
        name="shop",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace=namespace,
        health_checks=catalogue,
        actions=catalogue,
    )


def _exercise(cluster: rc.protocols.Cluster, namespace: str, folder: Path, catalogue: ArgoCDCatalogue) -> None:
    app = _app(cluster, folder, namespace, catalogue, DEPLOYMENT, CRONJOB)
    assert app.sync().succeeded
    web = rc.ResourceKey("apps", "Deployment", namespace, "web")
    offered = {action.name: action for action in app.actions(web)}
    assert set(offered) == {"restart", "pause", "resume", "scale"}
    assert offered["resume"].disabled
    assert [p.name for p in offered["scale"].params] == ["replicas"]

    dry = app.run_action(web, "scale", {"replicas": "3"}, dry_run=True)
    assert dry.dry_run
    assert [c.patch for c in dry.changes] == [{"spec": {"replicas": 3}}]
    assert cluster.get(web)["spec"]["replicas"] == 1  # a dry run changes nothing

    scaled = app.run_action(web, "scale", {"replicas": "3"})
    assert [c.operation for c in scaled.changes] == ["patch"]
    assert cluster.get(web)["spec"]["replicas"] == 3

    restarted = app.run_action(web, "restart")
    annotations = cluster.get(web)["spec"]["template"]["metadata"]["annotations"]
    assert restarted.changes[0].patch["spec"]["template"]["metadata"]["annotations"].keys() == annotations.keys()
    assert annotations["kubectl.kubernetes.io/restartedAt"].endswith("Z")

    with pytest.raises(ActionError, match=r"invalid number: many"):
        app.run_action(web, "scale", {"replicas": "many"})
    with pytest.raises(ActionError, match=r"no action 'explode' \(actions for apps/Deployment: pause, restart"):
        app.run_action(web, "explode")

    nightly = rc.ResourceKey("batch", "CronJob", namespace, "nightly")
    created = app.run_action(nightly, "create-job")
    [change] = created.changes
    assert change.operation == "create"
    assert change.key.namespace == namespace
    assert change.key.name.startswith("nightly-")
    job = cluster.get(change.key)
    assert job is not None
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["name"] == "nightly"

    stranger = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stranger", "namespace": namespace}}
    cluster.apply(stranger)
    with pytest.raises(ActionError, match=r"is not part of application 'shop'"):
        app.actions(rc.ResourceKey("", "ConfigMap", namespace, "stranger"))


def test_actions_run_and_apply_on_the_in_memory_cluster(catalogue, tmp_path):
    cluster = rc.MemoryCluster()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    _exercise(cluster, "shop", tmp_path / "git", catalogue)


@pytest.mark.integration
def test_actions_run_and_apply_on_the_real_control_plane(catalogue, kube_cluster, kube_namespace, tmp_path):
    _exercise(kube_cluster, kube_namespace, tmp_path / "git", catalogue)


class _StatusChanger:
    """An action provider whose one action touches status, as Argo Rollouts' abort does."""

    def discover(self, obj: Any) -> tuple[Any, ...]:
        return ()

    def run(self, obj: Any, name: str, params: Any = None, *, now: float | None = None) -> tuple[Any, ...]:
        changed = json.loads(json.dumps(obj))
        changed.setdefault("status", {})["abort"] = True
        changed["spec"]["replicas"] = 9
        return (ImpactedResource("patch", changed),)


def test_an_action_that_changes_status_is_refused_before_anything_is_sent(tmp_path):
    cluster = rc.MemoryCluster()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    folder = tmp_path / "git"
    folder.mkdir()
    (folder / "app.yaml").write_text(json.dumps(DEPLOYMENT))
    app = rc.Reconciler(
        name="shop",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace="shop",
        actions=_StatusChanger(),
    )
    assert app.sync().succeeded
    web = rc.ResourceKey("apps", "Deployment", "shop", "web")
    with pytest.raises(ActionError, match=r"changes status, which needs the status subresource"):
        app.run_action(web, "abort")
    assert cluster.get(web)["spec"]["replicas"] == 1
    without = rc.Reconciler(
        name="shop",
        source=rc.DirectorySource(folder),
        renderer=rc.DirectoryRenderer(),
        cluster=cluster,
        namespace="shop",
    )
    with pytest.raises(ActionError, match=r"no resource actions were given"):
        without.actions(web)


def test_the_catalogue_loads_from_a_git_repository_at_a_revision(tmp_path):
    if not CATALOGUE.is_dir():
        pytest.skip(f"Argo CD's resource customizations not found at {CATALOGUE}")
    repository = LocalRepository.init(tmp_path / "argo-cd.git")
    subset = tmp_path / "subset"
    for folder in ("apps/Deployment", "cert-manager.io/Certificate"):
        shutil.copytree(CATALOGUE / folder, subset / "resource_customizations" / folder)
    sha = repository.commit_directory(subset, "a catalogue")
    loaded = ArgoCDCatalogue.load(f"file://{tmp_path / 'argo-cd.git'}", "main", cache_dir=tmp_path / "cache")
    try:
        assert loaded.revision is not None
        assert loaded.revision.sha == sha
        assert ("cert-manager.io", "Certificate") in loaded.health_checks.patterns()
        assert ("apps", "Deployment") in loaded.actions.patterns()
        certificate = {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "tls", "namespace": "shop"},
            "status": {"conditions": [{"type": "Ready", "status": "True", "message": "Certificate is up to date"}]},
        }
        verdict = rc.health.assess(certificate, loaded)
        assert verdict is not None
        assert verdict.status is rc.HealthStatus.HEALTHY
    finally:
        loaded.close()
    with pytest.raises(rc.ConfigurationError, match=r"not a folder of Argo CD resource customizations"):
        ArgoCDCatalogue.load(tmp_path / "nowhere")
