"""Config management plugins, run with the real helm and kustomize (Argo CD's ``kustomized-helm`` example shape)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import reconcile as rc
from reconcile.errors import ConfigurationError, RenderError, ToolError
from reconcile.renderers import PluginRenderer, PluginSpec
from reconcile.testing import LocalRepository

pytestmark = pytest.mark.integration  # runs helm, kustomize and sh

GUESTBOOK_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-helm-guestbook
spec:
  replicas: 1
  selector:
    matchLabels: {app: helm-guestbook}
  template:
    metadata:
      labels: {app: helm-guestbook}
    spec:
      containers:
        - name: helm-guestbook
          image: "gcr.io/heptio-images/ks-guestbook-demo:0.1"
"""
GUESTBOOK_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-helm-guestbook
spec:
  selector: {app: helm-guestbook}
  ports: [{port: 80}]
"""
# The example's plugin: build the chart's dependencies, render it to all.yaml, and let kustomize patch that.
PLUGIN = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "ConfigManagementPlugin",
    "metadata": {"name": "kustomized-helm"},
    "spec": {
        "init": {"command": ["helm", "dependency", "build"]},
        "generate": {
            "command": ["sh", "-c"],
            "args": ["helm template release-name . > all.yaml && kustomize build"],
        },
        "discover": {"fileName": "./Chart.yaml"},
    },
}
# A plugin that shows the environment it ran in, as a ConfigMap.
ENV_PLUGIN = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "ConfigManagementPlugin",
    "metadata": {"name": "env-printer"},
    "spec": {
        "version": "v1.0",
        "generate": {
            "command": ["sh", "-c"],
            "args": [
                "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: env\\ndata:\\n'; "
                "for v in ARGOCD_APP_NAME ARGOCD_APP_NAMESPACE ARGOCD_APP_REVISION_SHORT ARGOCD_APP_SOURCE_PATH "
                "ARGOCD_ENV_COLOR PARAM_SIZE HOME KUBE_VERSION; "
                'do eval "printf \'  %s: \\"%s\\"\\n\' $v \\"\\$$v\\""; done'
            ],
        },
    },
}


@pytest.fixture
def tools_on_path(tmp_path, monkeypatch, helm_binary, kubectl_binary):
    """helm, and kustomize as ``kubectl kustomize`` (the test assets ship kubectl, which embeds it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "kustomize"
    wrapper.write_text(f'#!/bin/sh\n[ "$1" = build ] && shift\nexec "{kubectl_binary}" kustomize "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(helm_binary).parent}:/usr/bin:/bin")


@pytest.fixture
def repository(tmp_path) -> Path:
    """The example's layout: a guestbook chart, and plugins/kustomized-helm depending on it by file://."""
    root = tmp_path / "repo"
    chart = root / "helm-guestbook"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: helm-guestbook\nversion: 0.1.0\n")
    (chart / "templates" / "deployment.yaml").write_text(GUESTBOOK_DEPLOYMENT)
    (chart / "templates" / "service.yaml").write_text(GUESTBOOK_SERVICE)
    app = root / "plugins" / "kustomized-helm"
    (app / "overlays").mkdir(parents=True)
    (app / "Chart.yaml").write_text(
        "apiVersion: v2\nname: guestbook\nversion: 0.1.0\n"
        "dependencies:\n  - name: helm-guestbook\n    version: 0.1.0\n    repository: file://../../helm-guestbook\n"
    )
    (app / "kustomization.yaml").write_text(
        "namePrefix: kustomize-\nresources:\n- ./all.yaml\npatches:\n- path: overlays/guestbook-deployment.yaml\n"
    )
    (app / "overlays" / "guestbook-deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: release-name-helm-guestbook\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: helm-guestbook\n"
        '          image: "gcr.io/heptio-images/ks-guestbook-demo:0.2"\n'
    )
    (root / "kustomized-helm.yaml").write_text(json.dumps(PLUGIN))
    return root


def _snapshot(root: Path, path: str = "plugins/kustomized-helm") -> rc.model.Snapshot:
    return rc.model.Snapshot(revision=rc.model.Revision(sha="a1b2c3d4e5f6" + "0" * 28), root=root, path=path)


def test_the_kustomized_helm_example_renders_with_helm_then_kustomize(repository, tools_on_path):
    renderer = rc.PluginRenderer(PluginSpec.from_file(repository / "kustomized-helm.yaml"), app_name="guestbook")
    resources = renderer.render(_snapshot(repository))
    names = {r.key.kind: r.key.name for r in resources}
    assert names == {
        "Deployment": "kustomize-release-name-helm-guestbook",
        "Service": "kustomize-release-name-helm-guestbook",
    }
    deployment = next(r.manifest for r in resources if r.key.kind == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.2")  # kustomize patched
    app = repository / "plugins" / "kustomized-helm"
    assert not (app / "all.yaml").exists()  # the plugin wrote into a private copy, never the checkout
    assert not (app / "charts").exists()


def test_a_plugin_sees_argo_cds_variables_and_nothing_of_the_host(repository, tools_on_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret-1")
    renderer = PluginRenderer(
        spec=PluginSpec.from_manifest(ENV_PLUGIN),
        app_name="guestbook",
        app_namespace="shop",
        env={"COLOR": "teal"},
        parameters=[{"name": "size", "string": "large"}],
    ).for_cluster(rc.model.Capabilities(kube_version="v1.36.3", api_versions=("v1",)))
    [config] = renderer.render(_snapshot(repository))
    data = config.manifest["data"]
    assert data["ARGOCD_APP_NAME"] == "guestbook"
    assert data["ARGOCD_APP_NAMESPACE"] == "shop"
    assert data["ARGOCD_APP_REVISION_SHORT"] == "a1b2c3d"
    assert data["ARGOCD_APP_SOURCE_PATH"] == "plugins/kustomized-helm"
    assert data["ARGOCD_ENV_COLOR"] == "teal"
    assert data["PARAM_SIZE"] == "large"
    assert data["KUBE_VERSION"] == "1.36.3"
    assert data["HOME"] != os.environ.get("HOME")  # a private, empty HOME
    assert "host-secret-1" not in json.dumps(data)


def test_a_failing_plugin_is_a_tool_error_naming_it_and_discovery_picks_by_file(repository, tools_on_path):
    broken = json.loads(json.dumps(PLUGIN))
    broken["spec"]["generate"]["args"] = ["echo 'bad template' >&2; exit 3"]
    with pytest.raises(ToolError, match=r"plugin kustomized-helm generate: .*bad template"):
        PluginRenderer(spec=PluginSpec.from_manifest(broken)).render(_snapshot(repository))
    env_only = PluginSpec.from_manifest(ENV_PLUGIN)  # no discovery rule: never claims a folder
    chooser = PluginRenderer.discovering([env_only, PluginSpec.from_manifest(PLUGIN)], app_name="guestbook")
    assert {r.key.kind for r in chooser.render(_snapshot(repository))} == {"Deployment", "Service"}
    with pytest.raises(
        RenderError, match=r"no config management plugin claims 'helm-guestbook' \(tried env-printer-v1.0"
    ):
        PluginRenderer.discovering([env_only]).render(_snapshot(repository, "helm-guestbook"))


def test_an_application_uses_a_registered_plugin_by_name_and_refuses_an_unknown_one(
    repository, tools_on_path, tmp_path
):
    git = LocalRepository.init(tmp_path / "apps.git")
    git.commit_directory(repository, "the example")
    source = {"repoURL": git.url, "path": "plugins/kustomized-helm", "targetRevision": "main"}
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "kustomized-helm", "namespace": "argocd"},
        "spec": {
            "source": {**source, "plugin": {"name": "kustomized-helm", "env": [{"name": "COLOR", "value": "teal"}]}},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
        },
    }
    cluster = rc.MemoryCluster()
    with pytest.raises(ConfigurationError, match=r"plugin 'kustomized-helm' is not registered \(registered: none\)"):
        rc.Application.from_manifest(manifest, {"in-cluster": cluster}, cache_dir=tmp_path / "cache")
    plugin = PluginSpec.from_file(repository / "kustomized-helm.yaml")
    reconciler = rc.Application.from_manifest(
        manifest, {"in-cluster": cluster}, cache_dir=tmp_path / "cache", plugins=[plugin]
    )
    result = reconciler.sync()
    assert result.succeeded, result
    assert cluster.get(rc.ResourceKey("apps", "Deployment", "default", "kustomize-release-name-helm-guestbook"))


def test_a_plugin_file_that_is_not_a_plugin_is_refused(tmp_path):
    (tmp_path / "p.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    with pytest.raises(ConfigurationError, match=r"p.yaml: kind must be ConfigManagementPlugin"):
        PluginSpec.from_file(tmp_path / "p.yaml")
    no_generate = {"kind": "ConfigManagementPlugin", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(ConfigurationError, match=r"spec.generate is required"):
        PluginSpec.from_manifest(no_generate)
