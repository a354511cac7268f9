"""HelmRenderer with the real helm: options, values precedence, dependencies, multi-source, hostile charts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import (
    ConfigurationError,
    DuplicateResourceError,
    PathEscapeError,
    RenderError,
    ToolError,
    ToolNotFoundError,
)
from reconcile.model import Capabilities, Resource, ResourceKey, Revision, Snapshot
from reconcile.protocols import Renderer
from reconcile.renderers._helm import HelmRenderer
from reconcile.sources import GitSource
from reconcile.testing import LocalRepository

REVISION = Revision(sha="b" * 40, ref="main")
CHART = "helm/grade-api"
HOST_SECRET = "host-secret-do-not-leak"

CHART_YAML = "apiVersion: v2\nname: {name}\nversion: 0.1.0\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
        - name: api
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""
# One ConfigMap that shows everything the chart saw: the merged values, the release and the capabilities.
PROBE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-probe
data:
  values: {{ toJson .Values | quote }}
  release: {{ dict "name" .Release.Name "namespace" .Release.Namespace | toJson | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | toJson | quote }}
  monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | toJson | quote }}
"""
BASE_VALUES = "replicas: 1\nimage:\n  repository: grade-api\n  tag: latest\nlevel: chart\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def make_chart(root: Path, path: str = CHART, *, name: str = "grade-api", values: str = BASE_VALUES) -> Path:
    """The seed's layout: a chart with per-environment value files beside it."""
    chart = root / path
    write(chart / "Chart.yaml", CHART_YAML.format(name=name))
    write(chart / "values.yaml", values)
    write(chart / "templates" / "deployment.yaml", DEPLOYMENT)
    write(chart / "templates" / "probe.yaml", PROBE)
    write(chart / "environments" / "dev" / "values.yaml", "replicas: 1\nimage: {tag: dev}\nlevel: dev\n")
    write(chart / "environments" / "prod" / "values.yaml", "replicas: 3\nimage: {tag: v1.4.2}\nlevel: prod\n")
    return chart


def snap(root: Path, path: str = CHART) -> Snapshot:
    return Snapshot(revision=REVISION, root=root, path=path)


def by_kind(resources: tuple[Resource, ...], kind: str) -> list[Resource]:
    return [r for r in resources if r.key.kind == kind]


def probe(resources: tuple[Resource, ...], field: str = "values") -> Any:
    [config_map] = [r for r in resources if r.key.name.endswith("-probe")]
    return json.loads(config_map.manifest["data"][field])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    make_chart(repo)
    write(tmp_path / "outside" / "secret.yaml", f"stolen: {HOST_SECRET}\n")
    return repo


@pytest.mark.integration
def test_the_seed_layout_renders_with_the_prod_value_file(root, helm_binary):
    renderer = HelmRenderer(value_files=("environments/prod/values.yaml",), namespace="prod", helm=helm_binary)
    assert isinstance(renderer, Renderer)

    resources = renderer.render(snap(root))

    assert [r.key for r in resources] == [
        ResourceKey("", "ConfigMap", "", "grade-api-probe"),
        ResourceKey("apps", "Deployment", "prod", "grade-api"),
    ]
    [deployment] = by_kind(resources, "Deployment")
    assert deployment.manifest["spec"]["replicas"] == 3
    assert deployment.manifest["spec"]["template"]["spec"]["containers"][0]["image"] == "grade-api:v1.4.2"
    assert str(deployment.source) == "helm/grade-api/templates/deployment.yaml"
    assert probe(resources, "release") == {"name": "grade-api", "namespace": "prod"}  # folder name by default


@pytest.mark.integration
def test_values_precedence_files_in_order_then_inline_values_then_set(root, helm_binary):
    chart = root / CHART
    write(chart / "a.yaml", "fromA: a\nab: a\nabInline: a\n")
    write(chart / "b.yaml", "ab: b\nabInline: b\nbInlineSet: b\n")
    inline = {"abInline": "inline", "bInlineSet": "inline", "nested": {"keep": "inline", "over": "inline"}}
    renderer = HelmRenderer(
        value_files=("a.yaml", "b.yaml"),
        values=inline,
        parameters={"bInlineSet": "set", "nested.over": "set"},
        helm=helm_binary,
    )

    values = probe(renderer.render(snap(root)))

    assert values["level"] == "chart"  # the chart's own values.yaml is the base
    assert values["fromA"] == "a"
    assert values["ab"] == "b"
    assert values["abInline"] == "inline"
    assert values["bInlineSet"] == "set"
    assert values["nested"] == {"keep": "inline", "over": "set"}
    assert inline["nested"] == {"keep": "inline", "over": "inline"}  # the caller's mapping is untouched


@pytest.mark.integration
def test_inline_values_as_yaml_text(root, helm_binary):
    renderer = HelmRenderer(values="replicas: 5\nimage:\n  tag: inline\n", helm=helm_binary)
    [deployment] = by_kind(renderer.render(snap(root)), "Deployment")
    assert deployment.manifest["spec"]["replicas"] == 5
    assert deployment.manifest["spec"]["template"]["spec"]["containers"][0]["image"] == "grade-api:inline"


@pytest.mark.integration
def test_set_and_set_string_types_and_comma_escaping(root, helm_binary):
    renderer = HelmRenderer(
        parameters={"flag": "true", "count": 7, "enabled": False, "hosts": "a.example,b.example", "list": "{x,y}"},
        string_parameters={"zip": "007", "flagText": "true", "csv": "1,2"},
        helm=helm_binary,
    )

    values = probe(renderer.render(snap(root)))

    assert values["flag"] is True
    assert values["count"] == 7
    assert values["enabled"] is False
    assert values["hosts"] == "a.example,b.example"  # one value, not a list
    assert values["list"] == ["x", "y"]  # helm's list syntax passes through
    assert values["zip"] == "007"
    assert values["flagText"] == "true"
    assert values["csv"] == "1,2"


@pytest.mark.integration
def test_file_parameters_from_the_chart_folder_and_the_repository_root(root, helm_binary):
    write(root / CHART / "files" / "motd.txt", "hello from the chart\n")
    write(root / "shared" / "ca.pem", "-----BEGIN CERTIFICATE-----\n")
    renderer = HelmRenderer(file_parameters={"motd": "files/motd.txt", "tls.ca": "/shared/ca.pem"}, helm=helm_binary)

    values = probe(renderer.render(snap(root)))

    assert values["motd"] == "hello from the chart\n"
    assert values["tls"] == {"ca": "-----BEGIN CERTIFICATE-----\n"}


@pytest.mark.integration
def test_a_leading_slash_means_the_repository_root(root, helm_binary):
    write(root / "environments" / "shared.yaml", "level: repo-root\n")
    values = probe(HelmRenderer(value_files=("/environments/shared.yaml",), helm=helm_binary).render(snap(root)))
    assert values["level"] == "repo-root"


@pytest.mark.integration
def test_a_missing_value_file_is_named_unless_ignored(root, helm_binary):
    missing = "environments/qa/values.yaml"
    with pytest.raises(RenderError, match=r"value file 'environments/qa/values\.yaml' does not exist") as caught:
        HelmRenderer(value_files=(missing,), helm=helm_binary).render(snap(root))
    assert caught.value.revision == REVISION

    renderer = HelmRenderer(
        value_files=(missing, "environments/prod/values.yaml"), ignore_missing_value_files=True, helm=helm_binary
    )
    assert probe(renderer.render(snap(root)))["level"] == "prod"


@pytest.mark.integration
def test_release_name_namespace_kube_version_and_api_versions(root, helm_binary):
    renderer = HelmRenderer(
        release_name="grades",
        namespace="school",
        kube_version="1.29.4",
        api_versions=("monitoring.coreos.com/v1",),
        helm=helm_binary,
    )
    resources = renderer.render(snap(root))

    assert probe(resources, "release") == {"name": "grades", "namespace": "school"}
    assert probe(resources, "kube") == "v1.29.4"
    assert probe(resources, "monitoring") is True
    assert probe(HelmRenderer(helm=helm_binary).render(snap(root)), "monitoring") is False


@pytest.mark.integration
def test_a_chart_at_the_repository_root_is_named_after_the_chart(tmp_path, helm_binary):
    root = tmp_path / "repo"
    make_chart(root, ".", name="rooted")
    resources = HelmRenderer(helm=helm_binary).render(snap(root, "."))
    assert probe(resources, "release")["name"] == "rooted"
    assert {str(r.source) for r in resources} == {"templates/deployment.yaml", "templates/probe.yaml"}


@pytest.mark.integration
def test_crds_are_included_unless_skipped(root, helm_binary):
    crd = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: grades.example.com
"""
    write(root / CHART / "crds" / "grades.yaml", crd)

    included = HelmRenderer(helm=helm_binary).render(snap(root))
    [definition] = by_kind(included, "CustomResourceDefinition")
    assert definition.key.name == "grades.example.com"
    assert str(definition.source) == "helm/grade-api/crds/grades.yaml"

    skipped = HelmRenderer(skip_crds=True, helm=helm_binary).render(snap(root))
    assert by_kind(skipped, "CustomResourceDefinition") == []
    assert len(skipped) == len(included) - 1


@pytest.mark.integration
def test_helm_hooks_are_kept_with_their_annotations(root, helm_binary):
    hook = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "grade-api:{{ .Values.image.tag }}"}]
"""
    test_hook = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: smoke\n  annotations: {helm.sh/hook: test}\n"
    write(root / CHART / "templates" / "migrate.yaml", hook)
    write(root / CHART / "templates" / "tests" / "smoke.yaml", test_hook)

    resources = HelmRenderer(helm=helm_binary).render(snap(root))
    [job] = by_kind(resources, "Job")
    assert job.annotations == {
        "helm.sh/hook": "pre-install,pre-upgrade",
        "helm.sh/hook-weight": "-5",
        "helm.sh/hook-delete-policy": "before-hook-creation",
    }
    assert str(job.source) == "helm/grade-api/templates/migrate.yaml"
    assert [r.key.name for r in by_kind(resources, "Pod")] == ["smoke"]

    without_tests = HelmRenderer(skip_tests=True, helm=helm_binary).render(snap(root))
    assert by_kind(without_tests, "Pod") == []
    assert len(by_kind(without_tests, "Job")) == 1


@pytest.mark.integration
def test_dependencies_vendored_in_charts_and_by_file_url_render_offline(root, helm_binary):
    chart = root / CHART
    # A subchart already unpacked in charts/ ...
    write(chart / "charts" / "cache" / "Chart.yaml", CHART_YAML.format(name="cache"))
    write(chart / "charts" / "cache" / "values.yaml", "size: 1Gi\n")
    write(
        chart / "charts" / "cache" / "templates" / "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: cache\n  labels: {size: {{ .Values.size }}}\n",
    )
    # ... and a local chart elsewhere in the repository, referenced by file://, with a dependency of its own.
    write(
        root / "helm" / "common" / "Chart.yaml",
        CHART_YAML.format(name="common")
        + "dependencies:\n  - name: leaf\n    version: 0.1.0\n    repository: file://../leaf\n",
    )
    write(
        root / "helm" / "common" / "templates" / "sa.yaml",
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Values.account }}\n",
    )
    write(root / "helm" / "common" / "values.yaml", "account: default-account\n")
    write(root / "helm" / "leaf" / "Chart.yaml", CHART_YAML.format(name="leaf"))
    write(root / "helm" / "leaf" / "templates" / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leaf}\n")
    write(
        chart / "Chart.yaml",
        CHART_YAML.format(name="grade-api")
        + "dependencies:\n"
        + "  - name: cache\n    version: 0.1.0\n    repository: https://charts.example.invalid\n"
        + "  - name: common\n    version: 0.1.0\n    repository: file://../common\n",
    )
    write(chart / "values.yaml", BASE_VALUES + "cache: {size: 5Gi}\ncommon: {account: grades}\n")

    resources = HelmRenderer(helm=helm_binary).render(snap(root))

    found = {r.key.kind: r for r in resources}
    assert found["Service"].manifest["metadata"]["labels"] == {"size": "5Gi"}
    assert str(found["Service"].source) == "helm/grade-api/charts/cache/templates/svc.yaml"
    assert found["ServiceAccount"].key.name == "grades"
    assert str(found["ServiceAccount"].source) == "helm/common/templates/sa.yaml"
    [leaf] = [r for r in resources if r.key.name == "leaf"]
    assert str(leaf.source) == "helm/leaf/templates/cm.yaml"
    assert not (chart / "charts" / "common").exists()  # the checkout itself is never written to


@pytest.mark.integration
def test_a_remote_dependency_that_is_not_vendored_is_a_clear_error(root, helm_binary):
    write(
        root / CHART / "Chart.yaml",
        CHART_YAML.format(name="grade-api")
        + "dependencies:\n  - name: redis\n    version: 19.0.0\n    repository: https://charts.example.invalid\n",
    )
    with pytest.raises(RenderError, match=r"'redis' \(from https://charts\.example\.invalid\) is not vendored"):
        HelmRenderer(helm=helm_binary).render(snap(root))


@pytest.mark.integration
def test_value_files_from_another_git_repository(tmp_path, helm_binary):
    # The chart in one repository, the per-environment values in another: Argo CD's $values reference.
    charts = LocalRepository.init(tmp_path / "charts.git")
    work = tmp_path / "chart-work"
    make_chart(work)
    charts.commit_directory(work, "chart")
    config = LocalRepository.init(tmp_path / "config.git")
    config.commit({"grade-api/prod/values.yaml": "replicas: 4\nimage: {tag: from-config}\n"}, "prod values")
    cache = tmp_path / "cache"
    values_source = GitSource(config.url, "main", cache_dir=cache)
    snapshot = GitSource(charts.url, "main", CHART, cache_dir=cache).fetch()

    renderer = HelmRenderer(
        value_files=("environments/prod/values.yaml", "$values/grade-api/prod/values.yaml"),
        value_sources={"values": values_source},
        helm=helm_binary,
    )
    [deployment] = by_kind(renderer.render(snapshot), "Deployment")

    assert deployment.manifest["spec"]["replicas"] == 4
    assert deployment.manifest["spec"]["template"]["spec"]["containers"][0]["image"] == "grade-api:from-config"
    assert str(deployment.source) == "helm/grade-api/templates/deployment.yaml"

    escaping = HelmRenderer(
        value_files=("$values/../../../outside.yaml",), value_sources={"values": values_source}, helm=helm_binary
    )
    with pytest.raises(PathEscapeError, match=r"resolves outside the checkout of \$values") as caught:
        escaping.render(snapshot)
    assert caught.value.path == "$values/../../../outside.yaml"

    with pytest.raises(ConfigurationError, match=r"\$other, which is not one of value_sources"):
        HelmRenderer(value_files=("$other/values.yaml",), value_sources={"values": values_source})


# ------------------------------------------------------------------------------------------------ hostile inputs


def assert_no_leak(error: Exception) -> None:
    text = str(error) + getattr(error, "stderr", "")
    assert HOST_SECRET not in text
    assert "root:x:0:0" not in text


@pytest.mark.integration
def test_a_template_symlinked_to_a_host_file_is_refused(root, helm_binary):
    (root / CHART / "templates" / "passwd.yaml").symlink_to("/etc/passwd")
    with pytest.raises(PathEscapeError, match="points outside the repository") as caught:
        HelmRenderer(helm=helm_binary).render(snap(root))
    assert caught.value.path == "helm/grade-api/templates/passwd.yaml"
    assert caught.value.revision == REVISION
    assert_no_leak(caught.value)


@pytest.mark.integration
def test_a_symlinked_folder_or_subchart_leaving_the_repository_is_refused(root, helm_binary):
    outside = root.parent / "outside"
    (root / CHART / "charts").mkdir()
    (root / CHART / "charts" / "evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathEscapeError) as caught:
        HelmRenderer(helm=helm_binary).render(snap(root))
    assert caught.value.path == "helm/grade-api/charts/evil"
    assert_no_leak(caught.value)


@pytest.mark.integration
def test_symlinks_that_stay_inside_the_repository_are_followed(root, helm_binary):
    write(root / "shared" / "limits.yaml", "apiVersion: v1\nkind: LimitRange\nmetadata: {name: limits}\n")
    (root / CHART / "templates" / "limits.yaml").symlink_to("../../../shared/limits.yaml")
    (root / CHART / "templates" / "loop").symlink_to("..", target_is_directory=True)  # a cycle is not followed

    [limits] = by_kind(HelmRenderer(helm=helm_binary).render(snap(root)), "LimitRange")
    assert str(limits.source) == "helm/grade-api/templates/limits.yaml"


@pytest.mark.integration
@pytest.mark.parametrize(
    "value_file",
    ["../../../outside/secret.yaml", "environments/../../../../outside/secret.yaml", "/../outside/secret.yaml"],
)
def test_value_files_escaping_the_repository_are_refused(root, helm_binary, value_file):
    renderer = HelmRenderer(value_files=(value_file,), ignore_missing_value_files=True, helm=helm_binary)
    with pytest.raises(PathEscapeError, match="resolves outside the repository") as caught:
        renderer.render(snap(root))
    assert caught.value.path == value_file
    assert_no_leak(caught.value)


@pytest.mark.integration
def test_a_symlinked_value_file_leaving_the_repository_is_refused(root, helm_binary):
    secret = root.parent / "outside" / "secret.yaml"
    (root / "environments").mkdir()
    (root / "environments" / "secrets.yaml").symlink_to(secret)
    renderer = HelmRenderer(value_files=("/environments/secrets.yaml",), helm=helm_binary)
    with pytest.raises(PathEscapeError, match=r"value file '/environments/secrets\.yaml' resolves outside") as caught:
        renderer.render(snap(root))
    assert caught.value.path == "/environments/secrets.yaml"
    assert_no_leak(caught.value)

    # Inside the chart folder, the chart's own walk refuses it first.
    (root / CHART / "environments" / "prod" / "secrets.yaml").symlink_to(secret)
    renderer = HelmRenderer(value_files=("environments/prod/secrets.yaml",), helm=helm_binary)
    with pytest.raises(PathEscapeError) as caught:
        renderer.render(snap(root))
    assert caught.value.path == "helm/grade-api/environments/prod/secrets.yaml"
    assert_no_leak(caught.value)


@pytest.mark.integration
def test_an_absolute_value_file_is_read_from_the_repository_never_the_host(root, helm_binary):
    renderer = HelmRenderer(value_files=("/etc/passwd",), helm=helm_binary)
    with pytest.raises(RenderError, match=r"value file '/etc/passwd' does not exist") as caught:
        renderer.render(snap(root))
    assert_no_leak(caught.value)

    write(root / "etc" / "passwd", "level: repository-file\n")
    assert probe(renderer.render(snap(root)))["level"] == "repository-file"


@pytest.mark.integration
@pytest.mark.parametrize("written", ["../../../outside/secret.yaml", "/../outside/secret.yaml"])
def test_file_parameters_escaping_the_repository_are_refused(root, helm_binary, written):
    with pytest.raises(PathEscapeError) as caught:
        HelmRenderer(file_parameters={"stolen": written}, helm=helm_binary).render(snap(root))
    assert caught.value.path == written
    assert_no_leak(caught.value)


@pytest.mark.integration
def test_a_file_dependency_outside_the_repository_is_refused(root, helm_binary):
    write(root.parent / "outside" / "chart" / "Chart.yaml", CHART_YAML.format(name="outer"))
    write(
        root / CHART / "Chart.yaml",
        CHART_YAML.format(name="grade-api")
        + "dependencies:\n  - name: outer\n    version: 0.1.0\n    repository: file://../../../outside/chart\n",
    )
    with pytest.raises(PathEscapeError, match="outside the repository") as caught:
        HelmRenderer(helm=helm_binary).render(snap(root))
    assert caught.value.path == "file://../../../outside/chart"


@pytest.mark.integration
def test_output_over_the_limit_is_refused(root, helm_binary):
    write(root / CHART / "templates" / "big.yaml", PROBE.replace("-probe", "-big") + '  pad: "{{ repeat 5000 "x" }}"\n')
    with pytest.raises(ToolError, match="output limit"):
        HelmRenderer(max_output=4000, helm=helm_binary).render(snap(root))


# ------------------------------------------------------------------------------------------------ failures


@pytest.mark.integration
def test_a_failing_template_carries_helms_message_and_the_file(root, helm_binary):
    write(root / CHART / "templates" / "bad.yaml", "data:\n  x: {{ .Values.missing.deeper.x }}\n")
    with pytest.raises(ToolError) as caught:
        HelmRenderer(helm=helm_binary).render(snap(root))
    error = caught.value
    assert error.tool == "helm"
    assert error.exit_code == 1
    assert error.file == "helm/grade-api/templates/bad.yaml"
    assert "nil pointer evaluating" in str(error)
    assert "grade-api/templates/bad.yaml:2" in error.stderr
    assert "reconcile-helm-" not in str(error)  # private folders are not shown
    assert error.revision == REVISION


@pytest.mark.integration
def test_invalid_yaml_from_a_template_names_the_file(root, helm_binary):
    write(root / CHART / "templates" / "broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n")
    with pytest.raises(ToolError) as caught:
        HelmRenderer(helm=helm_binary).render(snap(root))
    assert caught.value.file == "helm/grade-api/templates/broken.yaml"


@pytest.mark.integration
def test_duplicate_objects_are_refused(root, helm_binary):
    write(root / CHART / "templates" / "again.yaml", DEPLOYMENT)
    with pytest.raises(DuplicateResourceError) as caught:
        HelmRenderer(helm=helm_binary).render(snap(root))
    assert {str(caught.value.first), str(caught.value.second)} == {
        "helm/grade-api/templates/again.yaml",
        "helm/grade-api/templates/deployment.yaml",
    }


@pytest.mark.integration
def test_a_folder_without_chart_yaml_is_not_a_chart(root, helm_binary):
    with pytest.raises(RenderError, match=r"'helm' is not a Helm chart"):
        HelmRenderer(helm=helm_binary).render(snap(root, "helm"))


def test_a_missing_helm_is_a_clear_error(root, tmp_path, monkeypatch):
    with pytest.raises(ToolNotFoundError, match=r"helm is not an executable file at .*install helm") as caught:
        HelmRenderer(helm=str(tmp_path / "no-helm")).render(snap(root))
    assert caught.value.tool == "helm"

    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToolNotFoundError, match="helm is not on PATH"):
        HelmRenderer().render(snap(root))
    with pytest.raises(ToolNotFoundError):
        HelmRenderer().fingerprint()


@pytest.mark.integration
def test_helm_is_found_on_path(root, helm_binary, monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(helm_binary).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert len(HelmRenderer().render(snap(root))) == 2


def test_options_that_cannot_work_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="list of strings"):
        HelmRenderer(value_files="values.yaml")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="without '='"):
        HelmRenderer(parameters={"a=b": "c"})
    with pytest.raises(ConfigurationError, match="string, number or boolean"):
        HelmRenderer(parameters={"a": ["list"]})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="must be a Source"):
        HelmRenderer(value_sources={"values": "https://example.com/repo.git"})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="release_name"):
        HelmRenderer(release_name=" ")


# ------------------------------------------------------------------------------------------------ fingerprint


@pytest.mark.integration
def test_fingerprint_is_stable_and_changes_with_every_option(helm_binary, tmp_path):
    base = HelmRenderer(helm=helm_binary)
    first = base.fingerprint()
    assert first.startswith("helm v4.")
    assert base.fingerprint() is first  # computed once per instance
    assert HelmRenderer(helm=helm_binary).fingerprint() == first
    assert HelmRenderer(helm=helm_binary, timeout=5, max_output=10).fingerprint() == first  # no effect on output
    assert HelmRenderer(helm=helm_binary, values={"a": 1}) == HelmRenderer(helm=helm_binary, values="a: 1\n")

    values_source = GitSource(LocalRepository.init(tmp_path / "v.git").url, "main", cache_dir=tmp_path / "c")
    variants = [
        HelmRenderer(helm=helm_binary, release_name="other"),
        HelmRenderer(helm=helm_binary, namespace="prod"),
        HelmRenderer(helm=helm_binary, value_files=("a.yaml",)),
        HelmRenderer(helm=helm_binary, value_files=("b.yaml", "a.yaml")),
        HelmRenderer(helm=helm_binary, value_files=("a.yaml",), ignore_missing_value_files=True),
        HelmRenderer(helm=helm_binary, values={"a": 1}),
        HelmRenderer(helm=helm_binary, parameters={"a": "1"}),
        HelmRenderer(helm=helm_binary, string_parameters={"a": "1"}),
        HelmRenderer(helm=helm_binary, file_parameters={"a": "1"}),
        HelmRenderer(helm=helm_binary, skip_crds=True),
        HelmRenderer(helm=helm_binary, skip_tests=True),
        HelmRenderer(helm=helm_binary, skip_schema_validation=True),
        HelmRenderer(helm=helm_binary, api_versions=("x/v1",)),
        HelmRenderer(helm=helm_binary, kube_version="1.30.0"),
        HelmRenderer(helm=helm_binary, value_sources={"values": values_source}),
    ]
    prints = [renderer.fingerprint() for renderer in variants]
    assert len({first, *prints}) == len(variants) + 1


@pytest.mark.integration
def test_renders_of_different_apps_run_in_parallel(tmp_path, helm_binary):
    from concurrent.futures import ThreadPoolExecutor

    repos = [make_chart(tmp_path / f"repo{i}", name=f"app{i}").parents[1] for i in range(4)]
    environments = ("dev", "prod", "dev", "prod")
    renderers = [
        HelmRenderer(helm=helm_binary, release_name=f"app{i}", value_files=(f"environments/{env}/values.yaml",))
        for i, env in enumerate(environments)
    ]

    def render(index: int) -> tuple[str, int]:
        resources = renderers[index].render(snap(repos[index]))
        (deployment,) = by_kind(resources, "Deployment")
        return deployment.key.name, deployment.manifest["spec"]["replicas"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(render, range(4)))

    assert results == [("app0", 1), ("app1", 3), ("app2", 1), ("app3", 3)]


@pytest.mark.integration
def test_set_up_for_a_cluster_the_renderer_keeps_every_setting(root, helm_binary):
    renderer = HelmRenderer(
        helm=helm_binary,
        parameters={"replicas": 4},
        string_parameters={"image.tag": "7"},
        value_sources={"values": GitSource("file:///nowhere.git")},
    )
    bound = renderer.for_cluster(Capabilities("v1.20.2", ("apps/v1",)))
    assert (bound.parameters, bound.string_parameters, bound.value_sources) == (
        renderer.parameters,
        renderer.string_parameters,
        renderer.value_sources,
    )
    assert (bound.kube_version, bound.api_versions) == ("v1.20.2", ("apps/v1",))
