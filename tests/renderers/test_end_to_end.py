"""A Helm chart in Git, laid out like the seed repository, reconciled into the real control plane.

``helm/grade-api`` with ``environments/<env>/values.yaml``; a commit that changes a value file re-renders and
syncs; a commit elsewhere in the repository reuses the render (manifest-generate-paths), counted by tool runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import reconcile as rc
from reconcile.renderers._cache import CachingRenderer, RenderCache

pytestmark = pytest.mark.integration  # real servers, tools or the control plane

CHART = {
    "helm/grade-api/Chart.yaml": "apiVersion: v2\nname: grade-api\nversion: 0.3.0\n",
    "helm/grade-api/values.yaml": "replicas: 1\nlevel: info\n",
    "helm/grade-api/templates/config.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-config\n"
        "data:\n  level: {{ .Values.level | quote }}\n"
    ),
    "helm/grade-api/templates/service.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n"
        "  selector: {app: {{ .Release.Name }}}\n  ports: [{port: 80, targetPort: 8080}]\n"
    ),
    "helm/grade-api/environments/prod/values.yaml": "level: warn\n",
    "helm/grade-api/environments/dev/values.yaml": "level: debug\n",
    "README.md": "The grade API.\n",
}


def _counting_helm(tmp_path: Path, helm_binary: str) -> tuple[str, Path]:
    """A helm that logs each run to a file, then runs the real one (tool runs get a clean environment)."""
    log = tmp_path / "helm-runs.log"
    wrapper = tmp_path / "helm"
    wrapper.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:2]) + '\\n')\n"
        f"os.execv({helm_binary!r}, ['helm', *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    return str(wrapper), log


def _templates(log: Path) -> int:
    return log.read_text().split().count("template") if log.exists() else 0


def test_a_chart_in_git_is_reconciled_and_rendered_once_per_relevant_change(
    tmp_path, kube_cluster, kube_namespace, helm_binary
):
    repo = rc.testing.LocalRepository.init(tmp_path / "repo.git")
    repo.commit(CHART, "Add the grade API chart")
    helm, log = _counting_helm(tmp_path, helm_binary)
    renderer = CachingRenderer(
        inner=rc.HelmRenderer(value_files=("environments/prod/values.yaml",), helm=helm),
        cache=RenderCache(),
        generate_paths=["."],
    )
    app = rc.Reconciler(
        name="grade-api",
        source=rc.GitSource(repo.url, "main", "helm/grade-api", cache_dir=tmp_path / "cache"),
        renderer=renderer,
        cluster=kube_cluster,
        namespace=kube_namespace,
        policy=rc.SyncPolicy(automated=True, prune=True),
    )
    config = rc.ResourceKey("", "ConfigMap", kube_namespace, "grade-api-config")

    first = app.reconcile()
    assert first.error is None, first
    assert first.sync is not None
    assert first.sync.succeeded, first
    assert kube_cluster.get(config)["data"] == {"level": "warn"}
    assert app.reconcile().sync_status is rc.SyncStatus.SYNCED
    assert _templates(log) == 1

    repo.commit({"README.md": "The grade API, documented.\n"}, "Docs only")
    assert app.reconcile().sync is None
    assert _templates(log) == 1  # the chart folder did not change: the render is reused

    repo.commit({"helm/grade-api/environments/prod/values.yaml": "level: error\n"}, "Quieter in prod")
    changed = app.reconcile()
    assert changed.sync is not None
    assert changed.sync.succeeded, changed
    assert kube_cluster.get(config)["data"] == {"level": "error"}
    assert _templates(log) == 2
