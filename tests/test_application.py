"""Argo CD Application manifests: parsed, mapped to sources and renderers, reconciled, written back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import reconcile as rc
from reconcile.argocd.application import ApplicationSource
from reconcile.manifests import dump_yaml, load_manifests

NAMESPACE = "grade-api-prod"
DEPLOYMENT = rc.ResourceKey("apps", "Deployment", NAMESPACE, "grade-api-prod")

CHART = {
    "helm/grade-api/Chart.yaml": "apiVersion: v2\nname: grade-api\nversion: 0.1.0\n",
    "helm/grade-api/values.yaml": "replicas: 1\nimage:\n  repository: grade-api\n  tag: latest\n",
    "helm/grade-api/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: grade-api}
  template:
    metadata:
      labels: {app: grade-api}
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
""",
    "helm/grade-api/environments/prod/values.yaml": "replicas: 3\nimage:\n  tag: v1.4.2\n",
    "helm/grade-api/environments/dev/values.yaml": "replicas: 1\nimage:\n  tag: dev\n",
}

SEED_PARAMETERS = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: grade-api-prod
  namespace: argocd
spec:
  project: default
  source:
    repoURL: {url}
    path: helm/grade-api
    targetRevision: main
    helm:
      parameters:
        - name: image.tag
          value: v1.4.2
        - name: replicas
          value: "3"
  destination:
    server: https://kubernetes.default.svc
    namespace: grade-api-prod
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
  ignoreDifferences:
    - group: apps
      kind: Deployment
      jsonPointers:
        - /spec/replicas
"""
SEED_VALUE_FILES = SEED_PARAMETERS.replace(
    """      parameters:
        - name: image.tag
          value: v1.4.2
        - name: replicas
          value: "3"
""",
    """      valueFiles:
        - environments/prod/values.yaml
""",
)


@pytest.fixture(scope="module")
def helm_dir(helm_binary: str) -> Path:
    # From the suite's helm_binary fixture: a missing helm fails loudly, and the tests using it are integration.
    return Path(helm_binary).parent


@pytest.fixture
def on_path(helm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{helm_dir}:{Path('/usr/bin')}:{Path('/bin')}")


@pytest.fixture
def repo(tmp_path: Path) -> rc.testing.LocalRepository:
    repository = rc.testing.LocalRepository.init(tmp_path / "repo.git")
    repository.commit(CHART, "grade-api chart")
    return repository


def app_dict(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "source": {"repoURL": "https://git.example.com/apps.git", "path": "app", "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
    }
    base.update(spec)
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "web"}, "spec": base}


def with_source(**source: Any) -> dict[str, Any]:
    return app_dict(source={"repoURL": "https://git.example.com/apps.git", "path": "app", **source})


def renderer_of(manifest: dict[str, Any]) -> Any:
    reconciler = rc.Application.from_manifest(manifest, clusters={"in-cluster": rc.MemoryCluster()})
    return reconciler.renderer


# ------------------------------------------------------------------------------------------------- the seed


@pytest.mark.integration
@pytest.mark.parametrize(
    "text",
    [
        pytest.param(SEED_PARAMETERS, id="parameters"),
        pytest.param(SEED_VALUE_FILES, id="value-files"),
    ],
)
def test_the_seed_application_reconciles_into_the_cluster(text, repo, tmp_path, on_path):
    cluster = rc.MemoryCluster()
    reconciler = rc.Application.from_manifest(
        text.format(url=repo.url), clusters={"in-cluster": cluster}, cache_dir=tmp_path / "cache"
    )
    assert reconciler.name == "grade-api-prod"
    assert reconciler.namespace == NAMESPACE
    assert reconciler.policy == rc.SyncPolicy(
        automated=True, prune=True, self_heal=True, sync_options=["CreateNamespace=true"]
    )
    assert reconciler.policy.create_namespace

    result = reconciler.reconcile()

    assert result.error is None, result
    assert result.sync is not None
    assert result.sync.succeeded, result
    assert result.sync_status is rc.SyncStatus.SYNCED
    assert cluster.get(rc.ResourceKey("", "Namespace", "", NAMESPACE)) is not None
    deployment = cluster.get(DEPLOYMENT)
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "grade-api:v1.4.2"

    # An HPA scales the Deployment: ignoreDifferences keeps the app in sync and self-heal leaves it alone.
    cluster.patch(DEPLOYMENT, {"spec": {"replicas": 7}}, field_manager="hpa")
    again = reconciler.reconcile()
    assert again.sync_status is rc.SyncStatus.SYNCED
    assert again.sync is None
    assert cluster.get(DEPLOYMENT)["spec"]["replicas"] == 7


def test_the_seed_forms_map_to_helm_settings(repo):
    parameters = rc.Application.parse(SEED_PARAMETERS.format(url=repo.url))
    renderer = renderer_of(parameters.manifest)
    assert isinstance(renderer, rc.HelmRenderer)
    assert renderer.parameters == (("image.tag", "v1.4.2"), ("replicas", "3"))
    assert renderer.release_name == "grade-api-prod"
    assert renderer.namespace == NAMESPACE
    assert parameters.ignore_differences == (
        rc.diff.IgnoreRule(group="apps", kind="Deployment", json_pointers=("/spec/replicas",)),
    )

    files = renderer_of(rc.Application.parse(SEED_VALUE_FILES.format(url=repo.url)).manifest)
    assert files.value_files == ("environments/prod/values.yaml",)
    assert files.parameters == ()


@pytest.mark.integration
def test_a_multi_source_application_reads_value_files_from_a_ref_source(tmp_path, on_path):
    charts = rc.testing.LocalRepository.init(tmp_path / "charts.git")
    charts.commit({k: v for k, v in CHART.items() if "environments" not in k}, "chart only")
    config = rc.testing.LocalRepository.init(tmp_path / "config.git")
    config.commit({"grade-api/prod.yaml": "replicas: 2\nimage:\n  tag: v2.0.0\n"}, "prod values")
    manifest = app_dict(
        sources=[
            {
                "repoURL": charts.url,
                "path": "helm/grade-api",
                "targetRevision": "main",
                "helm": {"valueFiles": ["$values/grade-api/prod.yaml"], "releaseName": "api"},
            },
            {"repoURL": config.url, "targetRevision": "main", "ref": "values"},
        ],
        syncPolicy={"automated": {}, "syncOptions": ["CreateNamespace=true"]},
    )
    manifest["spec"].pop("source")
    cluster = rc.MemoryCluster()

    reconciler = rc.Application.from_manifest(manifest, {"https://kubernetes.default.svc": cluster}, cache_dir=tmp_path)
    result = reconciler.reconcile()

    assert result.error is None, result
    assert result.sync is not None
    assert result.sync.succeeded, result
    deployment = cluster.get(rc.ResourceKey("apps", "Deployment", "web", "api"))
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "grade-api:v2.0.0"
    [(name, source)] = reconciler.renderer.value_sources
    assert name == "values"
    assert isinstance(source, rc.GitSource)


def test_local_and_revision_override_the_rendering_source(repo, tmp_path):
    app = rc.Application.parse(SEED_VALUE_FILES.format(url=repo.url))
    clusters = {"in-cluster": rc.MemoryCluster()}

    pinned = app.reconciler(clusters, revision="v1.0", cache_dir=tmp_path)
    local = app.reconciler(clusters, local=tmp_path)

    assert isinstance(pinned.source, rc.sources.ChartDependencies)
    git = pinned.source.inner
    assert isinstance(git, rc.GitSource)
    assert (git.revision, git.path) == ("v1.0", "helm/grade-api")
    assert git.cache_dir == (tmp_path / "git").absolute()
    assert local.source == rc.DirectorySource(tmp_path)


# ------------------------------------------------------------------------------------------------- mapping


def test_kustomize_settings_map_to_the_kustomize_renderer():
    renderer = renderer_of(
        with_source(
            kustomize={
                "namePrefix": "prod-",
                "nameSuffix": "-v1",
                "images": ["grade-api=registry.example.com/grade-api:v1.4.2"],
                "commonLabels": {"team": "grades"},
                "commonAnnotations": {"owner": "ops"},
                "namespace": "grades",
                "replicas": [{"name": "grade-api", "count": 4}, {"name": "worker", "count": "2"}],
                "components": ["../components/tls"],
                "forceCommonLabels": True,
            }
        )
    )
    assert renderer == rc.KustomizeRenderer(
        name_prefix="prod-",
        name_suffix="-v1",
        images=("grade-api=registry.example.com/grade-api:v1.4.2",),
        common_labels={"team": "grades"},
        common_annotations={"owner": "ops"},
        namespace="grades",
        replicas=({"name": "grade-api", "count": 4}, {"name": "worker", "count": 2}),
        components=("../components/tls",),
    )


def test_directory_settings_map_to_the_directory_renderer():
    renderer = renderer_of(with_source(directory={"recurse": True, "include": "*.yaml", "exclude": "test-*"}))
    assert renderer == rc.DirectoryRenderer(recurse=True, include="*.yaml", exclude="test-*")
    assert renderer_of(with_source(directory={"jsonnet": {}})) == rc.DirectoryRenderer()


def test_directory_jsonnet_settings_map_to_the_jsonnet_renderer():
    jsonnet = {
        "extVars": [{"name": "env", "value": "prod"}, {"name": "replicas", "value": "3", "code": True}],
        "tlas": [{"name": "tier", "value": "api"}, {"name": "debug", "value": "false", "code": True}],
        "libs": ["vendor"],
    }
    renderer = renderer_of(with_source(directory={"recurse": True, "jsonnet": jsonnet}))
    assert renderer == rc.DirectoryRenderer(
        recurse=True,
        jsonnet=rc.JsonnetRenderer(
            ext_vars={"env": "prod"},
            ext_code={"replicas": "3"},
            tlas={"tier": "api"},
            tla_code={"debug": "false"},
            libs=("vendor",),
        ),
    )


def test_helm_settings_map_to_the_helm_renderer():
    helm = {
        "releaseName": "api",
        "valueFiles": ["values-prod.yaml"],
        "values": "level: info\n",
        "valuesObject": {"level": "warn"},
        "parameters": [{"name": "image.tag", "value": "v1"}, {"name": "port", "value": "80", "forceString": True}],
        "fileParameters": [{"name": "config", "path": "files/config.json"}],
        "skipCrds": True,
        "skipTests": True,
        "ignoreMissingValueFiles": True,
        "kubeVersion": "1.30.0",
        "apiVersions": ["monitoring.coreos.com/v1"],
    }
    renderer = renderer_of(with_source(helm=helm))
    assert renderer == rc.HelmRenderer(
        release_name="api",
        namespace="web",
        value_files=("values-prod.yaml",),
        values="level: warn\n",  # valuesObject wins over values
        parameters={"image.tag": "v1"},
        string_parameters={"port": "80"},
        file_parameters={"config": "files/config.json"},
        skip_crds=True,
        skip_tests=True,
        ignore_missing_value_files=True,
        kube_version="1.30.0",
        api_versions=("monitoring.coreos.com/v1",),
    )
    assert renderer_of(with_source(helm={"values": "a: 1\n", "namespace": "other"})).values == "a: 1\n"
    assert renderer_of(with_source(helm={"namespace": "other"})).namespace == "other"


def test_without_settings_the_folder_decides_and_a_chart_is_the_apps_release():
    renderer = renderer_of(app_dict())
    assert isinstance(renderer, rc.AutoRenderer)
    assert renderer.helm == rc.HelmRenderer(release_name="web", namespace="web")
    assert renderer.kustomize == rc.KustomizeRenderer()
    assert renderer.directory == rc.DirectoryRenderer()


def test_a_chart_source_comes_from_the_helm_repository(tmp_path):
    manifest = app_dict(source={"repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "^1.2"})
    reconciler = rc.Application.from_manifest(manifest, {"in-cluster": rc.MemoryCluster()}, cache_dir=tmp_path)
    # The chart's remote dependencies are fetched at the source stage: the chart source sits inside that step.
    assert isinstance(reconciler.source, rc.sources.ChartDependencies)
    assert reconciler.source.cache_dir == tmp_path / "chart-dependencies"
    chart = reconciler.source.inner
    assert isinstance(chart, rc.HelmRepositorySource)
    assert (chart.chart, chart.version) == ("web", "^1.2")
    assert chart.cache_dir == (tmp_path / "helm-charts").absolute()
    assert reconciler.renderer == rc.HelmRenderer(release_name="web", namespace="web")


def test_sync_policy_retry_and_options_map_to_the_sync_policy():
    app = rc.Application.parse(
        app_dict(
            syncPolicy={
                "automated": {"prune": True, "allowEmpty": True},
                "syncOptions": ["PruneLast=true", "RespectIgnoreDifferences=true"],
                "retry": {"limit": 3, "backoff": {"duration": "10s", "factor": 3, "maxDuration": "2m"}},
            }
        )
    )
    assert app.sync_policy == rc.SyncPolicy(
        automated=True,
        prune=True,
        allow_empty=True,
        sync_options=("PruneLast=true", "RespectIgnoreDifferences=true"),
        retry=rc.RetryPolicy(limit=3, backoff=10.0, factor=3.0, max_backoff=120.0),
    )
    assert app.sync_policy.respect_ignore_differences
    assert not rc.Application.parse(app_dict(syncPolicy={"automated": {"enabled": False}})).sync_policy.automated
    assert rc.Application.parse(app_dict()).sync_policy == rc.SyncPolicy()


# ------------------------------------------------------------------------------------------------- clusters


def test_destinations_resolve_through_the_clusters_given():
    default, staging = rc.MemoryCluster(), rc.MemoryCluster()
    app = rc.Application.parse(app_dict())
    assert app.reconciler({"in-cluster": default, "staging": staging}).cluster is default
    assert app.reconciler({"https://kubernetes.default.svc": default, "staging": staging}).cluster is default
    assert app.reconciler({"only": default}).cluster is default

    named = rc.Application.parse(app_dict(destination={"name": "staging", "namespace": "web"}))
    assert named.reconciler({"in-cluster": default, "staging": staging}).cluster is staging
    by_url = rc.Application.parse(app_dict(destination={"server": "https://staging.example.com:6443"}))
    assert by_url.reconciler({"https://staging.example.com:6443": staging}).cluster is staging
    assert by_url.reconciler({"https://staging.example.com:6443": staging}).namespace == "default"


@pytest.mark.parametrize(
    ("destination", "clusters", "named"),
    [
        ({"server": "https://kubernetes.default.svc"}, None, "'https://kubernetes.default.svc'"),
        ({"name": "staging"}, {"in-cluster": "x", "prod": "y"}, "'staging'"),
        ({"server": "https://kubernetes.default.svc"}, {"a": "x", "b": "y"}, "(clusters: a, b)"),
    ],
)
def test_a_destination_without_a_cluster_is_named(destination, clusters, named):
    app = rc.Application.parse(app_dict(destination=destination))
    with pytest.raises(rc.ConfigurationError, match=r"spec\.destination") as caught:
        app.reconciler(clusters)
    assert named in str(caught.value)


def test_options_the_application_sets_are_refused():
    app = rc.Application.parse(app_dict())
    with pytest.raises(rc.ConfigurationError, match="namespace, policy"):
        app.reconciler({"in-cluster": rc.MemoryCluster()}, policy=rc.SyncPolicy(), namespace="x")
    settings = rc.diff.DiffSettings()
    assert app.reconciler({"in-cluster": rc.MemoryCluster()}, diff_settings=settings).diff_settings is settings


@pytest.mark.integration
def test_several_rendering_sources_are_rendered_each_and_joined(repo, tmp_path, on_path):
    extras = rc.testing.LocalRepository.init(tmp_path / "extras.git")
    extras.commit(
        {"extras/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: grade-api-extras}\ndata: {k: v}\n"},
        "extras",
    )
    manifest = app_dict(
        sources=[
            {
                "repoURL": repo.url,
                "path": "helm/grade-api",
                "targetRevision": "main",
                "helm": {"valueFiles": ["environments/prod/values.yaml"]},
            },
            {"repoURL": extras.url, "path": "extras", "targetRevision": "main"},
        ]
    )
    manifest["spec"].pop("source")
    app = rc.Application.parse(manifest)
    cluster = rc.MemoryCluster()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": app.destination_namespace}})
    reconciler = app.reconciler({"in-cluster": cluster}, cache_dir=tmp_path / "cache")

    result = reconciler.sync()

    assert result.succeeded, str(result)
    # The chart (released under the app's name) and the plain folder, joined into one application.
    assert sorted((r.key.kind, r.key.name) for r in result.resources) == [
        ("ConfigMap", "grade-api-extras"),
        ("Deployment", app.name),
    ]
    assert reconciler.diff().modified_resources == ()
    with pytest.raises(rc.ConfigurationError, match="a local folder stands in for one source"):
        app.reconciler({"in-cluster": cluster}, local=tmp_path)


# ------------------------------------------------------------------------------------------------- loading


def test_parse_reads_mappings_text_json_and_files(tmp_path):
    manifest = app_dict()
    path = tmp_path / "app.yaml"
    path.write_text(dump_yaml(manifest))
    expected = rc.Application.parse(manifest)

    assert rc.Application.parse(dump_yaml(manifest)) == expected
    assert rc.Application.parse(json.dumps(manifest)) == expected
    assert rc.Application.parse(path) == expected
    assert rc.Application.parse(str(path)) == expected
    assert expected.name == "web"
    assert expected.namespace == "argocd"
    assert expected.project == "default"
    assert expected.sources == (
        ApplicationSource(repo_url="https://git.example.com/apps.git", path="app", target_revision="main"),
    )
    assert (expected.destination_server, expected.destination_name) == ("https://kubernetes.default.svc", None)


def test_parse_all_reads_every_document_and_parse_wants_one(tmp_path):
    second = app_dict()
    second["metadata"]["name"] = "api"
    path = tmp_path / "apps.yaml"
    path.write_text(dump_yaml(app_dict()) + "---\n" + dump_yaml(second))

    assert [app.name for app in rc.Application.parse_all(path)] == ["web", "api"]
    with pytest.raises(rc.ConfigurationError, match=r"holds 2 documents: use Application\.parse_all"):
        rc.Application.parse(path)


def test_errors_in_files_name_the_file_and_line(tmp_path):
    bad = app_dict(destination="in-cluster")
    path = tmp_path / "apps.yaml"
    path.write_text(dump_yaml(app_dict()) + "---\n" + dump_yaml(bad))
    with pytest.raises(rc.ConfigurationError, match=r"apps.yaml:\d+: spec.destination: expected a mapping"):
        rc.Application.parse_all(path)
    path.write_text("spec: [unclosed\n")
    with pytest.raises(rc.ConfigurationError, match=r"apps\.yaml"):
        rc.Application.parse(path)
    with pytest.raises(rc.ConfigurationError, match="cannot read Application file"):
        rc.Application.parse(tmp_path / "missing.yaml")


def test_parse_does_not_change_the_callers_mapping():
    manifest = app_dict()
    before = json.dumps(manifest, sort_keys=True)
    app = rc.Application.parse(manifest)
    app.to_manifest()["spec"]["source"]["path"] = "changed"
    assert json.dumps(manifest, sort_keys=True) == before


# ------------------------------------------------------------------------------------------------- round trips


def test_an_unchanged_parse_writes_its_input_back(repo):
    text = SEED_PARAMETERS.format(url=repo.url)
    app = rc.Application.parse(text)
    [(expected, _)] = load_manifests(text, file="app.yaml")
    live = {
        **expected,
        "metadata": {**expected["metadata"], "uid": "1234", "resourceVersion": "42", "generation": 3},
        "status": {"sync": {"status": "Synced"}},
    }

    assert app.to_manifest() == expected
    assert rc.Application.parse(live).to_manifest() == expected
    assert rc.Application.parse(app.to_manifest()) == app


def test_unchanged_parts_keep_their_spelling_and_changed_parts_are_rewritten():
    manifest = app_dict(
        syncPolicy={"automated": {"prune": False}, "syncOptions": ["Validate=false"]},
        ignoreDifferences=[{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
    )
    manifest["spec"].pop("destination")
    manifest["spec"]["destination"] = {"name": "in-cluster"}
    app = rc.Application.parse(manifest)
    assert app.to_manifest() == manifest  # `prune: false` and the absent project survive

    changed = rc.Application(
        name=app.name,
        sources=app.sources,
        destination_name="in-cluster",
        destination_namespace="web",
        sync_policy=rc.SyncPolicy(
            automated=True,
            self_heal=True,
            sync_options=["CreateNamespace=true"],
            retry=rc.RetryPolicy(limit=2, backoff=1.5),
        ),
        ignore_differences=({"kind": "Secret", "jqPathExpressions": [".data.token"]},),
        manifest=manifest,
    )
    written = changed.to_manifest()
    assert written["spec"]["destination"] == {"name": "in-cluster", "namespace": "web"}
    assert written["spec"]["syncPolicy"] == {
        "automated": {"selfHeal": True},
        "syncOptions": ["CreateNamespace=true"],
        "retry": {"limit": 2, "backoff": {"duration": "1.5s", "factor": 2, "maxDuration": "180s"}},
    }
    assert written["spec"]["ignoreDifferences"] == [{"kind": "Secret", "jqPathExpressions": [".data.token"]}]
    assert written["spec"]["source"] == manifest["spec"]["source"]
    assert rc.Application.parse(written) == changed


def test_an_application_built_in_code_writes_a_whole_manifest():
    app = rc.Application(
        name="web",
        sources=[
            ApplicationSource(
                repo_url="https://git.example.com/a.git", path="chart", helm={"valueFiles": ["$v/x.yaml"]}
            ),
            ApplicationSource(repo_url="https://git.example.com/v.git", ref="v", target_revision="main"),
        ],
        destination_server="https://kubernetes.default.svc",
        destination_namespace="web",
        sync_policy=rc.SyncPolicy(prune=True),
    )
    written = app.to_manifest()
    assert written["apiVersion"] == "argoproj.io/v1alpha1"
    assert written["metadata"] == {"name": "web", "namespace": "argocd"}
    assert written["spec"]["project"] == "default"
    assert written["spec"]["sources"][1] == {
        "repoURL": "https://git.example.com/v.git",
        "targetRevision": "main",
        "ref": "v",
    }
    assert written["spec"]["syncPolicy"] == {"automated": {"enabled": False, "prune": True}}
    assert rc.Application.parse(written) == app


# ------------------------------------------------------------------------------------------------- malformed


def _set(manifest: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target = manifest
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value
    return manifest


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("apiVersion", "v1", "apiVersion: expected 'argoproj.io/v1alpha1', got 'v1'"),
        ("kind", "AppProject", "kind: expected 'Application', got 'AppProject'"),
        ("metadata.name", "", "metadata.name: expected a non-empty string"),
        ("spec.destination", None, "spec.destination: required"),
        ("spec.destination", {"namespace": "web"}, "spec.destination: give exactly one of server and name"),
        ("spec.destination.name", "in-cluster", "spec.destination: give exactly one of server and name"),
        ("spec.destination.namespace", 3, "spec.destination.namespace: expected a string, got 3"),
        ("spec.source", None, r"spec.source: required \(or spec.sources\)"),
        ("spec.source.repoURL", None, "spec.source.repoURL: expected a non-empty string, got None"),
        ("spec.source.path", ["a"], "spec.source.path: expected a string, got a list"),
        ("spec.source.helm", {"valueFiles": "values.yaml"}, "spec.source.helm.valueFiles: expected a list"),
        ("spec.source.helm", {"parameters": [{"name": "x", "value": 3}]}, r"parameters\[0\].value: expected a str"),
        ("spec.source.helm", {"parameters": [{"value": "3"}]}, r"helm.parameters\[0\].name: expected a non-empty"),
        ("spec.source.helm", {"skipCrds": "yes"}, "spec.source.helm.skipCrds: expected a boolean, got 'yes'"),
        ("spec.source.helm", {"valuesObject": "a: 1"}, "spec.source.helm.valuesObject: expected a mapping"),
        ("spec.source.helm", {"valueFiles": ["$values/x.yaml"]}, r"spec.source: .*\$values, which is not one of"),
        ("spec.source.helm", {"releaseNmae": "x"}, "spec.source.helm.releaseNmae: unknown field"),
        ("spec.source.kustomize", {"images": ["nope"]}, "spec.source: image override 'nope'"),
        ("spec.source.kustomize", {"replicas": [{"name": "a", "count": True}]}, r"replicas\[0\].count: expected an"),
        ("spec.source.kustomize", {"commonLabels": {"a": 1}}, "spec.source.kustomize.commonLabels.a: expected a str"),
        ("spec.source.directory", {"recurse": "true"}, "spec.source.directory.recurse: expected a boolean"),
        ("spec.source.directory", {"jsonnet": {"extVars": {"a": "b"}}}, "directory.jsonnet.extVars: expected a list"),
        ("spec.source.kustomize", {}, r"spec.source: only one of helm, kustomize, directory, plugin"),
        (
            "spec.syncPolicy",
            {"automated": {"prune": "yes"}},
            "spec.syncPolicy.automated.prune: expected a boolean, got 'yes'",
        ),
        ("spec.syncPolicy", {"automated": {"prunee": True}}, "spec.syncPolicy.automated.prunee: unknown field"),
        ("spec.syncPolicy", {"automated": True}, "spec.syncPolicy.automated: expected a mapping, got True"),
        ("spec.syncPolicy", {"syncOptions": "CreateNamespace=true"}, "spec.syncPolicy.syncOptions: expected a list"),
        (
            "spec.syncPolicy",
            {"syncOptions": ["CreateNamespace=yes"]},
            r"syncOptions\[0\]: sync option .* true or false",
        ),
        ("spec.syncPolicy", {"retry": {"limit": "3"}}, "spec.syncPolicy.retry.limit must be an integer"),
        ("spec.syncPolicy", {"retry": {"backoff": {"duration": "soon"}}}, "spec.syncPolicy.retry.backoff.duration"),
        ("spec.ignoreDifferences", {"kind": "Deployment"}, "spec.ignoreDifferences: expected a list"),
        ("spec.ignoreDifferences", [{"kind": "X", "jsonPointers": "/a"}], r"spec.ignoreDifferences\[0\]: jsonPointers"),
        ("spec.ignoreDifferences", [{"kind": "X", "jsonPointers": ["a"]}], r"ignoreDifferences\[0\]: invalid JSON poi"),
        ("spec.sources", [], "spec: give source or sources, not both"),
        ("spec.sourcez", {}, "spec.sourcez: unknown field"),
        ("spec", [], "spec: expected a mapping, got a list"),
    ],
)
def test_a_malformed_manifest_names_the_path(path, value, message):
    manifest = app_dict()
    if path == "spec.source.kustomize" and value == {}:
        manifest["spec"]["source"]["helm"] = {}
    if value is None:
        parent, _, last = path.rpartition(".")
        target = manifest
        for part in parent.split("."):
            target = target[part]
        target.pop(last)
    else:
        _set(manifest, path, value)
    with pytest.raises(rc.ConfigurationError, match=message):
        rc.Application.parse(manifest)


def test_a_secret_looking_value_is_not_shown_whole():
    token = "ghp_" + "x" * 60
    with pytest.raises(rc.ConfigurationError) as caught:
        rc.Application.parse(app_dict(project=["a"], destination={"server": "s", "namespace": 0}, info=token))
    assert token not in str(caught.value)
    with pytest.raises(rc.ConfigurationError) as caught:
        rc.Application.parse(
            _set(app_dict(), "spec.source.targetRevision", 12345678901234567890123456789012345678901234567)
        )
    assert "12345678901234567890123456789012345678901234567" not in str(caught.value)


def test_sources_that_only_reference_need_a_renderer_and_a_git_repository():
    only_ref = app_dict(sources=[{"repoURL": "https://git.example.com/v.git", "ref": "values"}])
    only_ref["spec"].pop("source")
    app = rc.Application.parse(only_ref)
    with pytest.raises(rc.ConfigurationError, match=r"spec\.sources: no source renders objects"):
        app.reconciler({"in-cluster": rc.MemoryCluster()})
    chart_ref = app_dict(
        sources=[
            {"repoURL": "https://git.example.com/a.git", "path": "a"},
            {"repoURL": "https://charts.example.com", "chart": "x", "ref": "values"},
        ]
    )
    chart_ref["spec"].pop("source")
    with pytest.raises(rc.ConfigurationError, match=r"spec.sources\[1\].ref: only Git sources"):
        rc.Application.parse(chart_ref)


# ------------------------------------------------------------------------------------------------- unsupported


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("spec.info", [{"name": "docs", "value": "x"}], "spec.info"),
        ("spec.revisionHistoryLimit", 3, "spec.revisionHistoryLimit"),
        ("spec.source.kustomize", {"patches": []}, "spec.source.kustomize.patches"),
        ("spec.source.helm", {"version": "v2"}, "spec.source.helm.version"),
        (
            "spec.syncPolicy.syncOptions",
            ["SyncInParallelUniverse=true"],
            r"spec.syncPolicy.syncOptions\[0\] \(SyncInParallel",
        ),
        ("spec.syncPolicy.retry", {"limit": 1, "refresh": True}, "spec.syncPolicy.retry.refresh"),
        ("operation", {"sync": {}}, "operation"),
    ],
)
def test_an_unsupported_field_warns_and_names_it(path, value, named):
    manifest = _set(app_dict(), path, value)
    with pytest.warns(
        rc.UnsupportedFieldWarning, match=f"^Application argocd/web: {named}.*not supported by reconcile"
    ):
        app = rc.Application.parse(manifest)
    assert app.to_manifest() == manifest  # kept for the round trip all the same


def test_the_warning_names_the_file_line_and_application(tmp_path):
    file = tmp_path / "apps.yaml"
    team = _set(_set(app_dict(), "metadata.namespace", "team-b"), "spec.info", [])
    first = dump_yaml(app_dict())
    file.write_text(first + "---\n" + dump_yaml(team))
    with pytest.warns(rc.UnsupportedFieldWarning) as caught:
        rc.Application.parse_all(file)
    line = len(first.splitlines()) + 2  # the second document starts after the first and its separator
    assert [str(w.message) for w in caught] == [
        f"{file}:{line}: Application team-b/web: spec.info: not supported by reconcile; ignored"
    ]


@pytest.mark.parametrize(
    "source",
    [
        {"repoURL": "https://git.example.com/apps.git", "path": "chart", "plugin": {"name": "argocd-vault-plugin"}},
        {"repoURL": "https://git.example.com/apps.git", "path": "app", "plugin": {}},
    ],
)
def test_a_plugin_source_is_refused_never_rendered_without_its_plugin(source):
    manifest = app_dict(source=source)
    app = rc.Application.parse(manifest)  # parsed, and written back as it was
    assert app.to_manifest() == manifest
    with pytest.raises(rc.ConfigurationError) as caught:
        app.reconciler({"in-cluster": rc.MemoryCluster()})
    named = source["plugin"].get("name")
    expected = (
        f"the config management plugin {named!r} is not registered (registered: none)"
        if named
        else "no config management plugin is registered (plugins=...)"
    )
    assert str(caught.value).startswith(f"Application argocd/web: spec.source.plugin: {expected}")
    several = app_dict(sources=[{"repoURL": "https://git.example.com/apps.git", "path": "plain"}, source])
    del several["spec"]["source"]
    with pytest.raises(rc.ConfigurationError, match=r"^Application argocd/web: spec\.sources\[1\]\.plugin: "):
        rc.Application.from_manifest(several, {"in-cluster": rc.MemoryCluster()})


def test_the_warning_points_at_the_callers_line():
    with pytest.warns(rc.UnsupportedFieldWarning) as caught:
        rc.Application.from_manifest(_set(app_dict(), "spec.info", []), {"in-cluster": rc.MemoryCluster()})
    assert caught[0].filename == __file__


@pytest.mark.integration
def test_applications_of_one_name_in_two_namespaces_never_prune_each_other(repo, tmp_path, on_path):
    # argocd/grade-api-prod and team-b/grade-api-prod, both with automated prune, as written: no name= given.
    cluster = rc.MemoryCluster()
    texts = [
        SEED_VALUE_FILES.format(url=repo.url)
        .replace("namespace: argocd", f"namespace: {namespace}")
        .replace("namespace: grade-api-prod", f"namespace: grade-api-{team}")
        for team, namespace in (("a", "argocd"), ("b", "team-b"))
    ]
    apps = [rc.Application.parse(text) for text in texts]
    assert [app.instance_name() for app in apps] == ["grade-api-prod", "team-b_grade-api-prod"]
    assert [app.display_name() for app in apps] == ["grade-api-prod", "team-b/grade-api-prod"]
    assert apps[0].instance_name("gitops") == "argocd_grade-api-prod"
    reconcilers = [app.reconciler({"in-cluster": cluster}, cache_dir=tmp_path / "cache") for app in apps]
    assert [r.name for r in reconcilers] == ["grade-api-prod", "team-b_grade-api-prod"]

    for reconciler in [*reconcilers, *reconcilers]:
        result = reconciler.reconcile()
        assert result.error is None, result
        assert not any(r.action is rc.SyncAction.PRUNE for r in result.resources), result

    for team, owner in (("a", "grade-api-prod"), ("b", "team-b_grade-api-prod")):
        live = cluster.get(rc.ResourceKey("apps", "Deployment", f"grade-api-{team}", "grade-api-prod"))
        assert live is not None
        tracking = live["metadata"]["annotations"]["reconcile.dev/tracking-id"]
        assert tracking == f"{owner}:apps/Deployment:grade-api-{team}/grade-api-prod"


@pytest.mark.integration
def test_managed_namespace_metadata_labels_the_destination_namespace(repo, tmp_path, on_path):
    text = SEED_VALUE_FILES.format(url=repo.url).replace(
        "    syncOptions:\n      - CreateNamespace=true\n",
        "    syncOptions:\n      - CreateNamespace=true\n"
        "    managedNamespaceMetadata:\n      labels: {team: grades}\n      annotations: {owner: platform}\n",
    )
    app = rc.Application.parse(text)
    assert app.sync_policy.managed_namespace_metadata == {
        "labels": {"team": "grades"},
        "annotations": {"owner": "platform"},
    }
    assert rc.Application.parse(app.to_manifest()) == app
    cluster = rc.MemoryCluster()
    namespace = rc.ResourceKey("", "Namespace", "", "grade-api-prod")

    assert app.reconciler({"in-cluster": cluster}, cache_dir=tmp_path / "cache").reconcile().error is None

    metadata = cluster.get(namespace)["metadata"]
    assert metadata["labels"]["team"] == "grades"
    assert metadata["annotations"]["owner"] == "platform"
    with pytest.raises(rc.ConfigurationError, match=r"spec\.syncPolicy\.managedNamespaceMetadata\.finalizers"):
        rc.Application.parse(text.replace("      labels: {team: grades}\n", "      finalizers: [x]\n"))


def test_a_credential_in_a_repository_url_is_never_in_a_repr(tmp_path):
    url = "https://ci:USERTOKEN1@charts.example.com/stable?access_token=QUERYTOKEN2"
    manifest = app_dict(source={"repoURL": url, "chart": "web", "targetRevision": "1.0.0"})
    app = rc.Application.parse(manifest)
    reconciler = app.reconciler({"in-cluster": rc.MemoryCluster()}, cache_dir=tmp_path)
    for text in (repr(app), repr(app.sources), repr(reconciler.source), reconciler.source.inner.url):
        assert "USERTOKEN1" not in text
        assert "QUERYTOKEN2" not in text
    assert "https://charts.example.com/stable?access_token=***" in repr(app)
    assert app.sources[0].repo_url == url, "the manifest's own value is kept for use"


@pytest.mark.parametrize(
    "directory", [None, {}, {"jsonnet": {}}, {"jsonnet": {"extVars": [{"name": "x", "value": "1"}]}}]
)
def test_a_folder_of_jsonnet_is_evaluated_with_or_without_directory_settings(tmp_path, directory):
    # Argo CD's jsonnet-guestbook: Synced/Healthy there with no settings, because it evaluates *.jsonnet.
    repository = rc.testing.LocalRepository.init(tmp_path / "repo.git")
    example = Path(__file__).parent / "renderers" / "jsonnet-guestbook"
    repository.commit({f"jsonnet-guestbook/{f.name}": f.read_text() for f in example.iterdir()}, "jsonnet guestbook")
    source: dict[str, Any] = {"repoURL": repository.url, "path": "jsonnet-guestbook", "targetRevision": "main"}
    if directory is not None:
        source["directory"] = directory
    cluster = rc.MemoryCluster()
    manifest = app_dict(source=source, syncPolicy={"syncOptions": ["CreateNamespace=true"]})
    reconciler = rc.Application.from_manifest(manifest, {"in-cluster": cluster}, cache_dir=tmp_path)
    result = reconciler.reconcile()
    assert result.error is None, result
    assert sorted((r.key.kind, r.key.name) for r in result.resources) == [
        ("Deployment", "jsonnet-guestbook-ui"),
        ("Service", "jsonnet-guestbook-ui"),
    ]
    synced = reconciler.sync()
    assert synced.succeeded, synced
    assert cluster.get(rc.ResourceKey("apps", "Deployment", "web", "jsonnet-guestbook-ui")) is not None
