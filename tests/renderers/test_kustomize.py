"""KustomizeRenderer with the real kustomize (``kubectl kustomize``) on overlays written by the tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from reconcile.errors import ConfigurationError, PathEscapeError, ToolError, ToolNotFoundError
from reconcile.model import Resource, Revision, Snapshot
from reconcile.renderers._kustomize import KustomizeRenderer, parse_image

REVISION = Revision(sha="0" * 40)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


BASE = {
    "base/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
    "base/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        envFrom: [{configMapRef: {name: settings}}]
      - name: sidecar
        image: registry.local:5000/tools/proxy:1.0
""",
    "base/service.yaml": """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
""",
    "components/monitoring/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
patches:
- target: {kind: Deployment}
  patch: |
    - op: add
      path: /metadata/annotations
      value: {monitoring: enabled}
""",
    "components/debug/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
configMapGenerator:
- name: debug
  literals: [LEVEL=debug]
""",
    "overlays/prod/kustomization.yaml": """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
components: [../../components/monitoring]
patches:
- path: replicas.yaml
configMapGenerator:
- name: settings
  literals: [MODE=prod]
  files: [app.properties]
images:
- name: nginx
  newTag: "1.26"
""",
    "overlays/prod/replicas.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 3}
""",
    "overlays/prod/app.properties": "color=blue\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    _write(root, BASE)
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def _snapshot(root: Path, path: str = "overlays/prod") -> Snapshot:
    return Snapshot(revision=REVISION, root=root, path=path)


def _by_kind(resources: tuple[Resource, ...]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        out.setdefault(resource.key.kind, []).append(resource.manifest)
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- rendering ------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_an_overlay_builds_with_patches_components_and_generators(repo: Path, kubectl_binary: str) -> None:
    before = _tree(repo)

    resources = KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo))

    kinds = _by_kind(resources)
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Service"]
    [configmap] = kinds["ConfigMap"]
    assert configmap["metadata"]["name"].startswith("settings-")  # the generator's content hash
    assert configmap["data"] == {"MODE": "prod", "app.properties": "color=blue\n"}
    [deployment] = kinds["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["metadata"]["annotations"] == {"monitoring": "enabled"}
    web, sidecar = deployment["spec"]["template"]["spec"]["containers"]
    assert web["image"] == "nginx:1.26"
    assert web["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]
    assert sidecar["image"] == "registry.local:5000/tools/proxy:1.0"
    assert {str(r.source) for r in resources} == {"overlays/prod/kustomization.yaml"}
    assert _tree(repo) == before  # the checkout is untouched


@pytest.mark.integration
def test_every_override_is_applied_as_kustomize_edit_would(repo: Path, kubectl_binary: str) -> None:
    renderer = KustomizeRenderer(
        kustomize=kubectl_binary,
        name_prefix="team-",
        name_suffix="-v2",
        images=["nginx=mirror.local/nginx:1.27", "registry.local:5000/tools/proxy@sha256:" + "a" * 64],
        common_labels={"team": "blue", "app": "shop"},
        common_annotations={"owner": "ops@example.com"},
        namespace="prod",
        replicas=[{"name": "web", "count": 5}],
        components=["../../components/debug"],
    )
    before = _tree(repo)

    kinds = _by_kind(renderer.render(_snapshot(repo)))

    [deployment] = kinds["Deployment"]
    assert deployment["metadata"]["name"] == "team-web-v2"
    assert deployment["metadata"]["namespace"] == "prod"
    assert deployment["metadata"]["labels"] == {"team": "blue", "app": "shop"}
    assert deployment["metadata"]["annotations"] == {"monitoring": "enabled", "owner": "ops@example.com"}
    assert deployment["spec"]["replicas"] == 5  # the override wins over the overlay's patch
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "shop", "team": "blue"}
    web, sidecar = deployment["spec"]["template"]["spec"]["containers"]
    assert web["image"] == "mirror.local/nginx:1.27"  # the overlay's own nginx entry was updated
    assert sidecar["image"] == "registry.local:5000/tools/proxy@sha256:" + "a" * 64
    names = sorted(c["metadata"]["name"].rsplit("-", 2)[0] for c in kinds["ConfigMap"])
    assert names == ["team-debug", "team-settings"]  # the component was added
    assert _tree(repo) == before


@pytest.mark.integration
def test_a_tag_override_replaces_a_digest_and_a_plain_folder_builds(tmp_path: Path, kubectl_binary: str) -> None:
    root = tmp_path / "repo"
    _write(root, {k: v for k, v in BASE.items() if k.startswith("base/")})
    (root / "base/kustomization.yaml").write_text(
        "resources: [deployment.yaml]\nimages:\n- name: nginx\n  digest: sha256:" + "b" * 64 + "\n"
    )

    plain = _by_kind(KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(root, "base")))
    tagged = _by_kind(
        KustomizeRenderer(kustomize=kubectl_binary, images=["nginx:1.28"]).render(_snapshot(root, "base"))
    )

    assert plain["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx@sha256:" + "b" * 64
    assert tagged["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


@pytest.mark.integration
def test_the_repository_root_can_be_the_application(tmp_path: Path, kubectl_binary: str) -> None:
    root = tmp_path / "repo"
    _write(root, {"kustomization.yml": "resources: [svc.yaml]\n", "svc.yaml": BASE["base/service.yaml"]})

    [service] = KustomizeRenderer(kustomize=kubectl_binary, name_prefix="x-").render(_snapshot(root, "."))

    assert service.key.name == "x-web"
    assert service.source is not None
    assert service.source.file == "kustomization.yml"


@pytest.mark.parametrize(
    ("spec", "entry"),
    [
        ("nginx=mirror/nginx", {"name": "nginx", "newName": "mirror/nginx"}),
        ("nginx=mirror/nginx:1.2", {"name": "nginx", "newName": "mirror/nginx", "newTag": "1.2"}),
        ("nginx=mirror/nginx@sha256:ab", {"name": "nginx", "newName": "mirror/nginx", "digest": "sha256:ab"}),
        ("nginx:1.2", {"name": "nginx", "newTag": "1.2"}),
        ("nginx@sha256:ab", {"name": "nginx", "digest": "sha256:ab"}),
        ("nginx:1.2@sha256:ab", {"name": "nginx", "newTag": "1.2", "digest": "sha256:ab"}),
        ("host:5000/a/b:v1", {"name": "host:5000/a/b", "newTag": "v1"}),
        ("host:5000/a/b=other:v2", {"name": "host:5000/a/b", "newName": "other", "newTag": "v2"}),
    ],
)
def test_image_overrides_parse_like_kustomize_edit_set_image(spec: str, entry: dict[str, str]) -> None:
    assert parse_image(spec) == entry


@pytest.mark.parametrize("spec", ["nginx", "host:5000/a/b", "=x:1", "nginx="])
def test_an_image_override_without_a_tag_or_digest_is_refused(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="image override"):
        KustomizeRenderer(images=[spec])


def test_bad_overrides_are_refused_when_the_renderer_is_made() -> None:
    with pytest.raises(ConfigurationError, match="replicas"):
        KustomizeRenderer(replicas=[{"name": "web", "count": "many"}])
    with pytest.raises(ConfigurationError, match="negative"):
        KustomizeRenderer(replicas=[{"name": "web", "count": -1}])
    with pytest.raises(ConfigurationError, match="strings"):
        KustomizeRenderer(common_labels={"a": 1})
    with pytest.raises(ConfigurationError, match="command"):
        KustomizeRenderer(command="oc")  # type: ignore[arg-type]
    assert KustomizeRenderer(replicas=[{"name": "web", "count": "2"}]).replicas == ({"name": "web", "count": 2},)


@pytest.mark.integration
def test_a_caller_mapping_is_copied(kubectl_binary: str) -> None:
    labels = {"team": "blue"}
    renderer = KustomizeRenderer(kustomize=kubectl_binary, common_labels=labels)
    labels["team"] = "red"
    assert renderer.common_labels == {"team": "blue"}


# --- helm inside kustomize --------------------------------------------------------------------------------------

HELM_KUSTOMIZATION = """\
helmGlobals: {chartHome: charts}
helmCharts:
- name: demo
  releaseName: rel
"""
HELM_CHART = {
    "app/charts/demo/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "app/charts/demo/values.yaml": "{}\n",
    "app/charts/demo/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .Release.Name }}-cm'}\ndata: {a: b}\n"
    ),
}


@pytest.mark.integration
def test_helm_charts_need_enable_helm(tmp_path: Path, kubectl_binary: str, helm_binary: str) -> None:
    root = tmp_path / "repo"
    _write(root, {"app/kustomization.yaml": HELM_KUSTOMIZATION, **HELM_CHART})

    with pytest.raises(ToolError, match="enable-helm") as caught:
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(root, "app"))
    assert caught.value.file == "app/kustomization.yaml"

    [configmap] = KustomizeRenderer(kustomize=kubectl_binary, enable_helm=True, helm=helm_binary).render(
        _snapshot(root, "app")
    )
    assert configmap.key.name == "rel-cm"
    assert not (root / "app" / "charts" / "demo" / "charts").exists()  # helm ran in the copy


# --- a standalone kustomize binary ----------------------------------------------------------------------------


@pytest.mark.integration
def test_a_standalone_kustomize_is_run_with_build(tmp_path: Path, repo: Path, kubectl_binary: str) -> None:
    # A stand-in "kustomize" that records its arguments and serves "build" with kubectl's embedded kustomize.
    log = tmp_path / "args.log"
    script = tmp_path / "bin" / "kustomize"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1] == 'version':\n    print('v5.8.1'); sys.exit(0)\n"
        f"os.execv({kubectl_binary!r}, [{kubectl_binary!r}, 'kustomize', *sys.argv[2:]])\n"
    )
    script.chmod(0o755)
    renderer = KustomizeRenderer(kustomize=str(script))

    kinds = _by_kind(renderer.render(_snapshot(repo)))

    assert sorted(kinds) == ["ConfigMap", "Deployment", "Service"]
    [build] = log.read_text().splitlines()
    assert build.startswith("build ")
    assert build.endswith("/overlays/prod --load-restrictor=LoadRestrictionsRootOnly")
    assert "plugins" not in build
    assert "exec" not in build
    assert "v5.8.1" in renderer.fingerprint()
    assert KustomizeRenderer(kustomize=kubectl_binary, command="kubectl").fingerprint() != renderer.fingerprint()


# --- hostile repositories ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_resource_folder_outside_the_repository_is_refused(tmp_path: Path, repo: Path, kubectl_binary: str) -> None:
    outside = tmp_path / "outside"
    _write(outside, {"kustomization.yaml": "resources: [secret.yaml]\n", "secret.yaml": "TOP-SECRET\n"})
    (repo / "overlays/prod/kustomization.yaml").write_text("resources: [../../../outside]\n")

    with pytest.raises(PathEscapeError, match="resolves outside the repository") as caught:
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo))

    assert caught.value.path == "../../../outside"
    assert caught.value.revision == REVISION
    assert "TOP-SECRET" not in str(caught.value)


@pytest.mark.integration
@pytest.mark.parametrize(
    "kustomization",
    [
        "resources: [/etc/passwd]\n",
        "resources: [../../../../../../../../../../etc]\n",
        "configMapGenerator:\n- name: x\n  files: [pw=/etc/passwd]\n",
        "secretGenerator:\n- name: x\n  envs: [../../../../../../../../etc/hostname]\n",
        "patches:\n- path: /etc/hosts\n",
    ],
)
def test_absolute_and_dotdot_paths_are_refused(repo: Path, kubectl_binary: str, kustomization: str) -> None:
    (repo / "overlays/prod/kustomization.yaml").write_text(kustomization)
    with pytest.raises(PathEscapeError, match="outside the repository") as caught:
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo))
    assert "root:" not in str(caught.value)  # nothing of /etc/passwd


@pytest.mark.integration
def test_a_base_escaping_through_its_own_kustomization_is_refused(
    tmp_path: Path, repo: Path, kubectl_binary: str
) -> None:
    (tmp_path / "outside.yaml").write_text(BASE["base/service.yaml"])
    (repo / "base/kustomization.yaml").write_text("resources: [deployment.yaml, ../../outside.yaml]\n")

    with pytest.raises(PathEscapeError) as caught:
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo))

    assert "base/kustomization.yaml" in str(caught.value)


@pytest.mark.integration
def test_a_file_outside_the_kustomization_root_is_refused_by_kustomize(repo: Path, kubectl_binary: str) -> None:
    # Inside the repository but outside the overlay's own root: kustomize's load restrictor refuses it.
    (repo / "overlays/prod/kustomization.yaml").write_text("resources: [../../base/service.yaml]\n")

    with pytest.raises(ToolError, match="is not in or below") as caught:
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo))

    assert caught.value.tool == "kubectl"
    assert caught.value.file == "overlays/prod/kustomization.yaml"
    assert "reconcile-kustomize-" not in str(caught.value)  # the private copy's paths are not shown
    assert "'base/service.yaml' is not in or below 'overlays/prod'" in caught.value.stderr


@pytest.mark.integration
def test_a_symlink_in_the_overlay_pointing_outside_is_refused(tmp_path: Path, repo: Path, kubectl_binary: str) -> None:
    (tmp_path / "host.yaml").write_text("TOP-SECRET\n")
    (repo / "overlays/prod/extra.yaml").symlink_to(tmp_path / "host.yaml")

    with pytest.raises(PathEscapeError, match=r"symlink 'overlays/prod/extra\.yaml' points outside") as caught:
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo))

    assert caught.value.path == "overlays/prod/extra.yaml"
    assert "TOP-SECRET" not in str(caught.value)


@pytest.mark.integration
def test_symlinks_inside_the_repository_work(repo: Path, kubectl_binary: str) -> None:
    _write(repo, {"overlays/prod/real/service.yaml": BASE["base/service.yaml"]})
    (repo / "overlays/prod/service.yaml").symlink_to(repo / "overlays/prod/real/service.yaml")  # absolute, inside
    (repo / "overlays/shared").symlink_to("../base", target_is_directory=True)
    (repo / "overlays/prod/kustomization.yaml").write_text("resources: [service.yaml]\n")
    (repo / "overlays/other").mkdir()
    (repo / "overlays/other/kustomization.yaml").write_text("resources: [../shared]\n")

    [service] = KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo))
    kinds = _by_kind(KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo, "overlays/other")))

    assert service.key.name == "web"
    assert sorted(kinds) == ["Deployment", "Service"]


@pytest.mark.integration
def test_output_over_the_limit_is_refused(repo: Path, kubectl_binary: str) -> None:
    with pytest.raises(ToolError, match="output limit"):
        KustomizeRenderer(kustomize=kubectl_binary, max_output=100).render(_snapshot(repo))


# --- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_an_unknown_field_is_a_tool_error_naming_the_file(repo: Path, kubectl_binary: str) -> None:
    (repo / "base/kustomization.yaml").write_text("resources: [deployment.yaml]\nbogus: 1\n")

    with pytest.raises(ToolError, match='unknown field "bogus"') as caught:
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo))

    assert caught.value.file == "base/kustomization.yaml"
    assert caught.value.exit_code == 1
    assert caught.value.revision == REVISION
    assert "reconcile-kustomize-" not in caught.value.stderr


def test_a_missing_kubectl_says_how_to_install_it(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolNotFoundError, match="kubectl is not on PATH: install kubectl") as caught:
        KustomizeRenderer().render(_snapshot(repo))
    assert caught.value.tool == "kubectl"
    with pytest.raises(ToolNotFoundError, match="kustomize is not an executable file"):
        KustomizeRenderer(kustomize=str(tmp_path / "kustomize")).render(_snapshot(repo))


@pytest.mark.integration
def test_a_missing_application_folder_is_a_render_error(repo: Path, kubectl_binary: str) -> None:
    with pytest.raises(Exception, match="does not exist"):
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo, "overlays/nope"))
    with pytest.raises(PathEscapeError):
        KustomizeRenderer(kustomize=kubectl_binary).render(_snapshot(repo, "../.."))


# --- fingerprint ------------------------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_fingerprint_names_the_configuration_and_kustomize_version(kubectl_binary: str) -> None:
    renderer = KustomizeRenderer(kustomize=kubectl_binary, name_prefix="a-", common_labels={"x": "1"})

    fingerprint = renderer.fingerprint()

    assert "v5.8.1" in fingerprint or '"version": "v5.' in fingerprint
    assert '"name_prefix": "a-"' in fingerprint
    assert renderer.fingerprint() is fingerprint  # computed once
    assert KustomizeRenderer(kustomize=kubectl_binary, name_prefix="a-", common_labels={"x": "1"}).fingerprint() == (
        fingerprint
    )
    assert KustomizeRenderer(kustomize=kubectl_binary, name_prefix="b-").fingerprint() != fingerprint
    assert KustomizeRenderer(kustomize=kubectl_binary, enable_helm=True).fingerprint() != (
        KustomizeRenderer(kustomize=kubectl_binary).fingerprint()
    )
