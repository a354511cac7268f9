"""Remote chart dependencies, fetched at the source stage from a real chart repository and rendered by real helm."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconcile as rc
from reconcile.sources import ChartDependencies, Credentials, DirectorySource
from reconcile.testing import ChartRepositoryServer, LocalRepository, build_chart_repository, write_chart

pytestmark = pytest.mark.integration  # a real chart repository, charts packaged by the real helm

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
data:
  version: {{ .Chart.Version | quote }}
"""


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory, helm_binary: str) -> Path:
    """A chart repository folder with db 3.1.0 and 3.2.0, packaged by helm."""
    sources = tmp_path_factory.mktemp("charts")
    charts = [
        write_chart(sources / version, "db", version, {"templates/settings.yaml": SETTINGS})
        for version in ("3.1.0", "3.2.0")
    ]
    return build_chart_repository(charts, tmp_path_factory.mktemp("repo"), helm=helm_binary)


def app_chart(folder: Path, repository_url: str, *, lock: str | None = None, version: str = "^3.0.0") -> Path:
    """Argo CD's helm-dependency example shape: a chart whose content is a dependency on a remote chart."""
    chart = write_chart(folder, "app", "1.0.0", {"templates/app.yaml": SETTINGS})
    text = (chart / "Chart.yaml").read_text()
    (chart / "Chart.yaml").write_text(
        text + f"dependencies:\n  - name: db\n    version: '{version}'\n    repository: {repository_url}\n"
    )
    if lock is not None:
        (chart / "Chart.lock").write_text(
            f"dependencies:\n- name: db\n  repository: {repository_url}\n  version: {lock}\ndigest: sha256:0\n"
        )
    return chart


def render(source: rc.sources.ChartDependencies, helm: str) -> dict[str, str]:
    snapshot = source.fetch()
    resources = rc.HelmRenderer(release_name="r", namespace="default", helm=helm).render(snapshot)
    return {r.key.name: r.manifest["data"]["version"] for r in resources}


def test_a_remote_dependency_is_fetched_verified_and_rendered_offline(repository, tmp_path, helm_binary):
    with ChartRepositoryServer(repository) as server:
        chart = app_chart(tmp_path / "src", server.url)
        source = ChartDependencies(DirectorySource(chart), cache_dir=tmp_path / "deps")
        assert render(source, helm_binary) == {"r-app": "1.0.0", "r-db": "3.2.0"}  # the range's newest
        pinned = ChartDependencies(
            DirectorySource(app_chart(tmp_path / "locked", server.url, lock="3.1.0")), cache_dir=tmp_path / "deps"
        )
        assert render(pinned, helm_binary) == {"r-app": "1.0.0", "r-db": "3.1.0"}  # Chart.lock pins it
        # Fetched again: the index is read to resolve the range, the archive comes from the cache.
        assert source.fetch() == source.fetch()
        archives = [path for method, path in server.requests if path.endswith(".tgz")]
        assert sorted(archives) == ["/db-3.1.0.tgz", "/db-3.2.0.tgz"]
    assert not (chart / "charts").exists(), "the source's own folder is never written"


def test_an_unreachable_dependency_names_the_chart_the_dependency_and_the_url(tmp_path):
    chart = app_chart(tmp_path / "src", "http://127.0.0.1:9/charts")
    with pytest.raises(rc.errors.RepositoryUnreachableError) as caught:
        ChartDependencies(DirectorySource(chart), cache_dir=tmp_path / "deps").fetch()
    assert str(caught.value).startswith("the chart: dependency 'db' ^3.0.0 from http://127.0.0.1:9/charts: ")
    assert caught.value.retryable


def test_a_private_repository_takes_its_credentials_by_url(repository, tmp_path, helm_binary):
    with ChartRepositoryServer(repository, username="ci", password="dep-token-8") as server:
        chart = app_chart(tmp_path / "src", server.url)
        with pytest.raises(rc.errors.AuthenticationError) as refused:
            ChartDependencies(DirectorySource(chart), cache_dir=tmp_path / "deps").fetch()
        assert "dep-token-8" not in str(refused.value)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "charts", "labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
            "stringData": {"type": "helm", "url": server.url, "username": "ci", "password": "dep-token-8"},
        }
        credentials = Credentials.from_secrets([secret])
        source = ChartDependencies(DirectorySource(chart), credentials=credentials, cache_dir=tmp_path / "deps")
        assert render(source, helm_binary)["r-db"] == "3.2.0"


def test_an_application_with_a_remote_dependency_reconciles_end_to_end(repository, tmp_path, helm_binary, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(helm_binary).parent}:/usr/bin:/bin")
    with ChartRepositoryServer(repository) as server:
        git = LocalRepository.init(tmp_path / "repo.git")
        chart = app_chart(tmp_path / "src", server.url)
        files = {f"helm-dependency/{p.relative_to(chart)}": p.read_text() for p in chart.rglob("*") if p.is_file()}
        git.commit(files, "helm-dependency")
        manifest = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "helm-dependency", "namespace": "argocd"},
            "spec": {
                "source": {"repoURL": git.url, "path": "helm-dependency", "targetRevision": "main"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "default"},
            },
        }
        cluster = rc.MemoryCluster()
        reconciler = rc.Application.from_manifest(manifest, {"in-cluster": cluster}, cache_dir=tmp_path / "cache")
        result = reconciler.sync()
    assert result.succeeded, result
    assert cluster.get(rc.ResourceKey("", "ConfigMap", "default", "helm-dependency-db")) is not None
