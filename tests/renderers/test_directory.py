from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest

from reconcile.errors import ConfigurationError, DuplicateResourceError, ManifestError, PathEscapeError, RenderError
from reconcile.manifests import check_unique
from reconcile.model import Location, Resource, ResourceKey, Revision, Snapshot
from reconcile.protocols import Renderer
from reconcile.renderers._directory import DirectoryRenderer
from reconcile.renderers._files import parse_patterns

REVISION = Revision(sha="a" * 40, ref="main")


def cm(name: str, namespace: str | None = None, api_version: str = "v1", kind: str = "ConfigMap") -> str:
    meta = f"  name: {name}\n" + (f"  namespace: {namespace}\n" if namespace else "")
    return f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n{meta}"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    return root


def snapshot(root: Path, path: str = "app") -> Snapshot:
    return Snapshot(revision=REVISION, root=root, path=path)


def render(root: Path, path: str = "app", **options: Any) -> tuple[Resource, ...]:
    return DirectoryRenderer(**options).render(snapshot(root, path))


def names(resources: tuple[Resource, ...]) -> list[str]:
    return [r.key.name for r in resources]


def places(resources: tuple[Resource, ...]) -> list[str]:
    return [str(r.source) for r in resources]


def render_error(root: Path, error: type[Exception] = RenderError, **options: Any) -> RenderError:
    with pytest.raises(error) as info:
        render(root, **options)
    assert isinstance(info.value, RenderError)
    return info.value


# --- reading files --------------------------------------------------------------------------------


def test_renders_every_object_with_its_file_and_line_sorted_by_key(repo: Path) -> None:
    write(repo / "app/b.yaml", cm("zeta") + "---\n" + cm("alpha", kind="Secret"))
    write(repo / "app/a.yml", "# header\n" + cm("beta", "prod"))
    resources = render(repo)
    assert [str(r.key) for r in resources] == [
        "ConfigMap//zeta",
        "ConfigMap/prod/beta",
        "Secret//alpha",
    ]
    assert places(resources) == ["app/b.yaml:1", "app/a.yml:2", "app/b.yaml:6"]
    assert resources[1].manifest == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "beta", "namespace": "prod"},
    }


def test_json_files_lists_and_empty_documents(repo: Path) -> None:
    items = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}} for name in "xy"]
    write(repo / "app/svc.json", json.dumps(items, indent=2))
    write(
        repo / "app/list.yaml",
        "---\n---\napiVersion: v1\nkind: List\nitems:\n- " + cm("c").replace("\n", "\n  "),
    )
    resources = render(repo)
    assert names(resources) == ["c", "x", "y"]
    assert places(resources) == ["app/list.yaml:6", "app/svc.json:2", "app/svc.json:9"]


def test_the_root_itself_can_be_the_application(repo: Path) -> None:
    write(repo / "top.yaml", cm("top"))
    assert places(render(repo, path=".")) == ["top.yaml:1"]


def test_a_nested_application_path_prefixes_file_names(repo: Path) -> None:
    write(repo / "envs/prod/app.yaml", cm("a"))
    assert places(render(repo, path="envs/prod")) == ["envs/prod/app.yaml:1"]
    assert places(render(repo, path="./envs/prod/")) == ["envs/prod/app.yaml:1"]


def test_only_manifest_files_are_read_and_hidden_ones_are_skipped(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("a"))
    write(repo / "app/README.md", "# not yaml: [")
    write(repo / "app/notes.txt", "kind: [")
    write(repo / "app/.hidden.yaml", cm("hidden"))
    write(repo / "app/.git/config.yaml", cm("git"))
    assert names(render(repo)) == ["a"]
    assert names(render(repo, recurse=True)) == ["a"]


GUESTBOOK = Path(__file__).with_name("jsonnet-guestbook")
"""Argo CD's example application jsonnet-guestbook, as its repository holds it."""


def test_jsonnet_files_are_evaluated_as_argo_cd_does(repo: Path) -> None:
    # Argo CD's own example jsonnet-guestbook, which works there with no settings.
    for file in GUESTBOOK.iterdir():
        write(repo / "app" / file.name, file.read_text())
    resources = render(repo)
    assert [(r.key.kind, r.key.name) for r in resources] == [
        ("Service", "jsonnet-guestbook-ui"),
        ("Deployment", "jsonnet-guestbook-ui"),
    ]
    assert {str(r.source) for r in resources} == {"app/guestbook-ui.jsonnet"}
    # Mixed with plain manifests, filtered by the same globs; jsonnet=None leaves them out.
    write(repo / "app/extra.yaml", cm("extra"))
    assert names(render(repo)) == ["extra", "jsonnet-guestbook-ui", "jsonnet-guestbook-ui"]
    assert names(render(repo, include="*.yaml")) == ["extra"]
    assert names(render(repo, exclude="*.jsonnet")) == ["extra"]
    assert names(render(repo, jsonnet=None)) == ["extra"]


def test_a_glob_never_makes_other_files_manifests(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("a"))
    write(repo / "app/README.md", "# not yaml: [")
    write(repo / "app/params.libsonnet", "{ oops")
    assert names(render(repo, include="*")) == ["a"]


def test_subfolders_are_read_only_when_recursing(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("a"))
    write(repo / "app/sub/deeper/b.yaml", cm("b"))
    write(repo / "app/.hidden/c.yaml", cm("c"))
    assert names(render(repo)) == ["a"]
    assert places(render(repo, recurse=True)) == ["app/a.yaml:1", "app/sub/deeper/b.yaml:1"]


def test_a_folder_without_manifests_renders_nothing(repo: Path) -> None:
    assert render(repo) == ()


def test_the_renderer_is_a_frozen_keyword_only_value_and_a_renderer() -> None:
    renderer = DirectoryRenderer(recurse=True)
    assert isinstance(renderer, Renderer)
    assert renderer == DirectoryRenderer(recurse=True)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        renderer.recurse = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        DirectoryRenderer(True)  # type: ignore[call-arg]


# --- include and exclude --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "patterns"),
    [
        ("*.yaml,*.yml,*.json", ("*.yaml", "*.yml", "*.json")),
        ("{*.yml,*.yaml}", ("*.yml", "*.yaml")),
        (" *.yaml , {a,b}/*.json ", ("*.yaml", "a/*.json", "b/*.json")),
        ("x{1,{2,3}}.yaml", ("x1.yaml", "x2.yaml", "x3.yaml")),
        ("*.yaml,*.yaml", ("*.yaml",)),
        ("odd{.yaml", ("odd{.yaml",)),
        ("", ()),
        (None, ()),
    ],
)
def test_parse_patterns(spec: str | None, patterns: tuple[str, ...]) -> None:
    assert parse_patterns(spec) == patterns


def test_include_matches_the_relative_path_or_the_name(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("a"))
    write(repo / "app/b.yml", cm("b"))
    write(repo / "app/sub/c.yaml", cm("c"))
    write(repo / "app/other/d.yaml", cm("d"))
    assert names(render(repo, include="*.yml")) == ["b"]
    assert names(render(repo, include="{*.yml,*.yaml}", recurse=True)) == ["a", "b", "c", "d"]
    assert names(render(repo, include="sub/*.yaml", recurse=True)) == ["c"]
    assert names(render(repo, include="c.yaml", recurse=True)) == ["c"]


def test_exclude_skips_files_and_folders(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("a"))
    write(repo / "app/a-test.yaml", cm("a-test"))
    write(repo / "app/tests/t.yaml", cm("t"))
    write(repo / "app/sub/s.yaml", cm("s"))
    assert names(render(repo, exclude="*-test.yaml")) == ["a"]
    assert names(render(repo, exclude="tests", recurse=True)) == ["a", "a-test", "s"]
    assert names(render(repo, exclude="{tests/*,sub/*,a.yaml}", recurse=True)) == ["a-test"]


@pytest.mark.parametrize("include", ["", " , ", "{}"])
def test_include_must_name_a_pattern(include: str) -> None:
    with pytest.raises(ConfigurationError, match="include must name at least one pattern"):
        DirectoryRenderer(include=include)


# --- duplicates -----------------------------------------------------------------------------------


def test_the_same_object_in_two_files_is_an_error_naming_both_places(repo: Path) -> None:
    write(repo / "app/b.yaml", "# comment\n\n" + cm("web", "prod"))
    write(repo / "app/a.yaml", cm("other") + "---\n" + cm("web", "prod"))
    error = render_error(repo, DuplicateResourceError)
    assert isinstance(error, DuplicateResourceError)
    assert error.key == ResourceKey("", "ConfigMap", "prod", "web")
    assert error.first == Location("app/a.yaml", 6)
    assert error.second == Location("app/b.yaml", 3)
    assert "app/a.yaml:6" in str(error)
    assert "app/b.yaml:3" in str(error)
    assert error.revision == REVISION


def test_versions_of_one_group_kind_are_the_same_object(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("web", kind="Deployment", api_version="apps/v1"))
    write(repo / "app/b.yaml", cm("web", kind="Deployment", api_version="apps/v1beta2"))
    error = render_error(repo, DuplicateResourceError)
    assert isinstance(error, DuplicateResourceError)
    assert error.key == ResourceKey("apps", "Deployment", "", "web")


def test_same_name_in_other_namespaces_or_groups_is_fine(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("web", "one") + "---\n" + cm("web", "two"))
    write(repo / "app/b.yaml", cm("web", "one", api_version="example.com/v1"))
    assert [str(r.key) for r in render(repo)] == [
        "ConfigMap/one/web",
        "ConfigMap/two/web",
        "example.com/ConfigMap/one/web",
    ]


def test_check_unique() -> None:
    one = Resource.from_manifest({"kind": "A", "metadata": {"name": "x"}}, Location("a.yaml", 1))
    two = Resource.from_manifest({"kind": "A", "metadata": {"name": "y"}}, Location("a.yaml", 5))
    again = Resource.from_manifest({"kind": "A", "metadata": {"name": "x"}}, None)
    check_unique([one, two])  # different names: no error
    with pytest.raises(DuplicateResourceError) as info:
        check_unique(iter([one, two, again]))
    assert (info.value.first, info.value.second) == (Location("a.yaml", 1), None)
    assert str(info.value) == "A//x is defined twice: in a.yaml:1 and in an unnamed source"


# --- malformed files ------------------------------------------------------------------------------


def test_an_object_without_a_name_is_a_manifest_error_at_its_place(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("ok") + "---\napiVersion: v1\nkind: Secret\nmetadata: {}\n")
    error = render_error(repo, ManifestError)
    assert isinstance(error, ManifestError)
    assert (error.file, error.line) == ("app/a.yaml", 6)
    assert str(error) == "app/a.yaml:6: Secret has no metadata.name"
    assert error.revision == REVISION


def test_a_syntax_error_names_the_file_relative_to_the_root(repo: Path) -> None:
    write(repo / "app/sub/bad.yaml", "kind: [\n")
    error = render_error(repo, ManifestError, recurse=True)
    assert isinstance(error, ManifestError)
    assert error.file == "app/sub/bad.yaml"
    assert str(error).startswith("app/sub/bad.yaml:2: invalid YAML")


def test_a_file_that_is_not_utf8_is_a_manifest_error_naming_it(repo: Path) -> None:
    write(repo / "app/latin1.yaml", b"kind: ConfigMap\nmetadata:\n  name: caf\xe9\n")
    error = render_error(repo, ManifestError)
    assert isinstance(error, ManifestError)
    assert (error.file, error.line) == ("app/latin1.yaml", 3)
    assert "not valid UTF-8" in str(error)


def test_files_over_the_size_limit_are_refused(repo: Path) -> None:
    write(repo / "app/small.yaml", cm("small"))
    write(repo / "app/big.yaml", cm("big") + "#" * 500 + "\n")
    size = (repo / "app/big.yaml").stat().st_size
    error = render_error(repo, ManifestError, max_file_bytes=400)
    assert str(error) == f"app/big.yaml: file is {size} bytes, over the limit of 400"
    assert names(render(repo, max_file_bytes=size)) == ["big", "small"]


def test_the_alias_limit_is_passed_on(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("a") + "data:\n  x: &x [1, 2, 3, 4, 5]\n  y: [*x, *x, *x]\n")
    assert names(render(repo)) == ["a"]
    error = render_error(repo, ManifestError, max_nodes=10)
    assert "app/a.yaml:7: aliases expand this document by more than 10 nodes" in str(error)


# --- the application folder -----------------------------------------------------------------------


def test_a_missing_application_folder_is_a_render_error(repo: Path) -> None:
    with pytest.raises(RenderError) as info:
        render(repo, path="nowhere")
    assert type(info.value) is RenderError
    assert str(info.value) == "application folder 'nowhere' does not exist"
    assert info.value.revision == REVISION


def test_an_application_path_that_is_a_file_is_a_render_error(repo: Path) -> None:
    write(repo / "file.yaml", cm("a"))
    with pytest.raises(RenderError, match=re.escape("application folder 'file.yaml' does not exist")):
        render(repo, path="file.yaml")


def test_an_application_path_outside_the_root_is_refused(repo: Path) -> None:
    write(repo.parent / "outside/a.yaml", cm("a"))
    with pytest.raises(RenderError, match=re.escape("application folder '../outside' is outside the repository")):
        render(repo, path="../outside")


# --- symlinks -------------------------------------------------------------------------------------


def test_symlinks_inside_the_root_are_followed(repo: Path) -> None:
    write(repo / "shared/base.yaml", cm("base"))
    write(repo / "shared/more/extra.yaml", cm("extra"))
    (repo / "app/base.yaml").symlink_to("../shared/base.yaml")
    (repo / "app/more").symlink_to("../shared/more", target_is_directory=True)
    assert places(render(repo)) == ["app/base.yaml:1"]
    assert places(render(repo, recurse=True)) == ["app/base.yaml:1", "app/more/extra.yaml:1"]


def test_a_symlinked_file_outside_the_root_is_refused(repo: Path, tmp_path: Path) -> None:
    secret = write(tmp_path / "host/passwd.yaml", cm("host"))
    (repo / "app/passwd.yaml").symlink_to(secret)
    error = render_error(repo)
    assert isinstance(error, PathEscapeError)
    assert error.path == "app/passwd.yaml"
    assert str(error) == "symlink 'app/passwd.yaml' points outside the repository"
    assert error.revision == REVISION


def test_a_symlinked_folder_outside_the_root_is_refused(repo: Path, tmp_path: Path) -> None:
    write(tmp_path / "host/etc/x.yaml", cm("host"))
    (repo / "app/sub").mkdir()
    (repo / "app/sub/etc").symlink_to(tmp_path / "host/etc", target_is_directory=True)
    assert names(render(repo)) == []  # not recursing: the folder is never entered
    assert str(render_error(repo, recurse=True)) == "symlink 'app/sub/etc' points outside the repository"


def test_a_relative_symlink_climbing_out_of_the_root_is_refused(repo: Path, tmp_path: Path) -> None:
    write(tmp_path / "x.yaml", cm("x"))
    (repo / "app/x.yaml").symlink_to("../../x.yaml")
    assert "points outside the repository" in str(render_error(repo))


def test_symlink_cycles_end(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("a"))
    write(repo / "app/sub/b.yaml", cm("b"))
    (repo / "app/sub/loop").symlink_to("..", target_is_directory=True)
    (repo / "app/self").symlink_to(".", target_is_directory=True)
    assert places(render(repo, recurse=True)) == ["app/a.yaml:1", "app/sub/b.yaml:1"]


def test_a_broken_symlink_that_would_be_read_is_an_error(repo: Path) -> None:
    (repo / "app/gone.yaml").symlink_to("missing.yaml")
    (repo / "app/gone.txt").symlink_to("missing.txt")
    assert str(render_error(repo)) == "symlink 'app/gone.yaml' points to nothing"
    assert render(repo, exclude="gone.yaml") == ()


def test_the_root_itself_may_be_reached_through_a_symlink(repo: Path, tmp_path: Path) -> None:
    write(repo / "app/a.yaml", cm("a"))
    link = tmp_path / "link"
    link.symlink_to(repo, target_is_directory=True)
    assert places(render(link)) == ["app/a.yaml:1"]


def test_manifests_are_not_shared_between_renders(repo: Path) -> None:
    write(repo / "app/a.yaml", cm("a"))
    first = render(repo)
    first[0].manifest["metadata"]["name"] = "changed"
    assert render(repo)[0].manifest["metadata"]["name"] == "a"


def test_a_folder_over_the_total_size_limit_is_refused_before_parsing(repo: Path) -> None:
    write(repo / "app/big.yaml", cm("big") + "# " + "x" * 5000 + "\n")
    error = render_error(repo, max_total_bytes=4096)
    assert str(error).startswith("the application's files hold ")
    assert str(error).endswith("bytes, over the limit of 4096")


def test_the_fingerprint_follows_the_settings() -> None:
    assert DirectoryRenderer().fingerprint() == DirectoryRenderer().fingerprint()
    assert DirectoryRenderer(recurse=True).fingerprint() != DirectoryRenderer().fingerprint()


def test_a_symlink_loop_is_a_manifest_error_naming_the_file(repo: Path) -> None:
    (repo / "app").mkdir(exist_ok=True)
    (repo / "app/a.yaml").symlink_to("b.yaml")
    (repo / "app/b.yaml").symlink_to("a.yaml")
    error = render_error(repo, ManifestError)
    assert str(error) == "app/a.yaml: symlink loop: the link never reaches a file or folder"


def test_a_folder_with_more_files_than_the_limit_is_refused_before_reading(repo: Path) -> None:
    for index in range(6):
        write(repo / f"app/cm-{index}.yaml", cm(f"cm-{index}"))
    assert len(render(repo, max_files=6)) == 6
    error = render_error(repo, max_files=5)
    assert str(error) == "the application has more than 5 files to read (max_files)"
