"""Renderers that depend on the cluster get its version and API versions from the Reconciler."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcile as rc
from reconcile.renderers._cache import CachingRenderer

PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: probe
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  widgets: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | toString | quote }}
  deployments: {{ .Capabilities.APIVersions.Has "apps/v1/Deployment" | toString | quote }}
"""


def _chart(folder: Path) -> Path:
    (folder / "templates").mkdir(parents=True)
    (folder / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (folder / "templates/probe.yaml").write_text(PROBE)
    return folder


def test_capabilities_list_group_versions_and_kinds():
    capabilities = rc.model.Capabilities.from_kinds("v1.20.2", [("", "Pod", ["v1"]), ("apps", "Deployment", ["v1"])])
    assert capabilities.api_versions == ("apps/v1", "apps/v1/Deployment", "v1", "v1/Pod")
    memory = rc.MemoryCluster(version="1.36").capabilities()
    assert memory.kube_version == "v1.36.0"
    assert {"apps/v1/Deployment", "batch/v1/CronJob", "v1/ConfigMap", "autoscaling/v2"} <= set(memory.api_versions)
    assert "batch/v1beta1/CronJob" not in memory.api_versions


@pytest.mark.integration
def test_a_chart_sees_the_cluster_it_is_reconciled_into(tmp_path, helm_binary):
    cluster = rc.MemoryCluster(version="1.33")
    helm = rc.HelmRenderer(helm=helm_binary)
    app = rc.Reconciler(
        name="probe",
        source=rc.DirectorySource(_chart(tmp_path / "chart")),
        renderer=CachingRenderer(inner=helm),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True),
    )

    assert app.reconcile().error is None
    probe = cluster.get(rc.ResourceKey("", "ConfigMap", "default", "probe"))
    assert probe["data"] == {"kube": "v1.33.0", "widgets": "false", "deployments": "true"}

    # Explicit settings win over the cluster's.
    pinned = rc.HelmRenderer(helm=helm_binary, kube_version="1.30.0", api_versions=["example.com/v1/Widget"])
    bound = pinned.for_cluster(cluster.capabilities())
    (rendered,) = bound.render(rc.model.Snapshot(revision=rc.model.Revision(sha="a" * 40), root=tmp_path / "chart"))
    assert rendered.manifest["data"] == {"kube": "v1.30.0", "widgets": "true", "deployments": "false"}


@pytest.mark.integration
def test_the_real_server_reports_its_version_and_api_versions(kube_cluster):
    capabilities = kube_cluster.capabilities()
    assert capabilities.kube_version.startswith("v1.36.")
    assert {"apps/v1", "apps/v1/Deployment", "v1/Namespace"} <= set(capabilities.api_versions)
