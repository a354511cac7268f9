"""JsonnetRenderer with the real go-jsonnet on files and libraries written by the tests."""

from __future__ import annotations

import json
import time
from pathlib import Path

import _gojsonnet  # type: ignore[import-not-found]  # the wheel ships no type hints
import pytest

from reconcile.errors import ConfigurationError, DuplicateResourceError, ManifestError, PathEscapeError, ToolError
from reconcile.model import Revision, Snapshot
from reconcile.renderers._jsonnet import JsonnetRenderer

REVISION = Revision(sha="1" * 40)

LIB = """\
{
  configMap(name, data):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: name },
    data: data,
  },
}
"""


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    _write(
        root,
        {
            "vendor/k.libsonnet": LIB,
            "apps/web/lib/local.libsonnet": "{ port: 8080 }\n",
            "apps/web/main.jsonnet": """\
local k = import 'k.libsonnet';
local local_ = import 'lib/local.libsonnet';
function(replicas, extra={}) [
  k.configMap('settings', { env: std.extVar('env'), port: std.toString(local_.port) }),
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', labels: std.extVar('labels') },
    spec: { replicas: replicas } + extra,
  },
]
""",
            "apps/web/list.jsonnet": """\
{ apiVersion: 'v1', kind: 'List', items: [
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' } },
  { apiVersion: 'v1', kind: 'ServiceList', items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'b' } }] },
] }
""",
            "apps/web/single.jsonnet": "{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } }\n",
            "apps/web/notes.libsonnet": "error 'libsonnet files are only imported'\n",
            "apps/web/sub/deep.jsonnet": "{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'deep' } }\n",
        },
    )
    return root


def _snapshot(root: Path, path: str = "apps/web") -> Snapshot:
    return Snapshot(revision=REVISION, root=root, path=path)


def _renderer(**options: object) -> JsonnetRenderer:
    defaults: dict[str, object] = {
        "ext_vars": {"env": "prod"},
        "ext_code": {"labels": "{ team: 'blue', tier: std.extVar('env') }"},
        "tla_code": {"replicas": "3"},
        "libs": ["vendor"],
    }
    return JsonnetRenderer(**{**defaults, **options})  # type: ignore[arg-type]


def test_objects_lists_and_list_kinds_become_objects(repo: Path) -> None:
    resources = _renderer().render(_snapshot(repo))

    keys = [(r.key.kind, r.key.name, str(r.source)) for r in resources]
    assert keys == [
        ("Service", "web", "apps/web/list.jsonnet"),
        ("Service", "b", "apps/web/list.jsonnet"),
        ("ConfigMap", "settings", "apps/web/main.jsonnet"),
        ("Deployment", "web", "apps/web/main.jsonnet"),
        ("Namespace", "web", "apps/web/single.jsonnet"),
    ]
    configmap, deployment = resources[2].manifest, resources[3].manifest
    assert configmap["data"] == {"env": "prod", "port": "8080"}  # a library from libs and one next to the file
    assert deployment["metadata"]["labels"] == {"team": "blue", "tier": "prod"}  # ext code sees ext vars
    assert deployment["spec"] == {"replicas": 3}


def test_string_and_code_top_level_arguments(repo: Path) -> None:
    renderer = _renderer(tlas={"replicas": "2"}, tla_code={"extra": "{ paused: true }"}, include="main.jsonnet")

    [_, deployment] = renderer.render(_snapshot(repo))

    assert deployment.manifest["spec"] == {"replicas": "2", "paused": True}


def test_include_exclude_and_recurse(repo: Path) -> None:
    names = [str(r.source) for r in _renderer(recurse=True, exclude="main.jsonnet").render(_snapshot(repo))]
    assert names == [
        "apps/web/list.jsonnet",
        "apps/web/list.jsonnet",
        "apps/web/single.jsonnet",
        "apps/web/sub/deep.jsonnet",
    ]
    [namespace] = _renderer(include="{single,nothing}.jsonnet").render(_snapshot(repo))
    assert namespace.key.kind == "Namespace"


def test_later_libraries_win_like_go_jsonnet(repo: Path) -> None:
    _write(repo, {"vendor2/k.libsonnet": LIB.replace("'ConfigMap'", "'Secret'")})
    renderer = _renderer(libs=["vendor", "/vendor2"], include="main.jsonnet")

    kinds = [r.key.kind for r in renderer.render(_snapshot(repo))]

    assert kinds == ["Secret", "Deployment"]


def test_imports_climbing_inside_the_repository_work(repo: Path) -> None:
    _write(repo, {"apps/web/up.jsonnet": "(import '../../vendor/k.libsonnet').configMap('up', {})\n"})
    [configmap] = _renderer(include="up.jsonnet").render(_snapshot(repo))
    assert configmap.key.name == "up"


def test_the_caller_mappings_are_copied() -> None:
    ext_vars = {"env": "prod"}
    renderer = JsonnetRenderer(ext_vars=ext_vars)
    ext_vars["env"] = "dev"
    assert renderer.ext_vars == {"env": "prod"}


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="climbs out"):
        JsonnetRenderer(libs=["../other"])
    with pytest.raises(ConfigurationError, match="strings"):
        JsonnetRenderer(ext_vars={"n": 1})
    with pytest.raises(ConfigurationError, match="include"):
        JsonnetRenderer(include="")


# --- hostile repositories ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("import '/etc/passwd'", "/etc/passwd"),
        ("importstr '/etc/passwd'", "/etc/passwd"),
        ("importbin '/etc/hostname'", "/etc/hostname"),
        ("import '../../../x.libsonnet'", "../../../x.libsonnet"),
        ("importstr '../../../../../../../../../etc/passwd'", "../../../../../../../../../etc/passwd"),
    ],
)
def test_imports_outside_the_repository_are_refused(tmp_path: Path, repo: Path, source: str, path: str) -> None:
    (tmp_path / "x.libsonnet").write_text("{ secret: 'TOP-SECRET' }")
    _write(repo, {"apps/web/evil.jsonnet": f"{{ data: {source} }}\n"})

    with pytest.raises(PathEscapeError) as caught:
        _renderer(include="evil.jsonnet").render(_snapshot(repo))

    assert caught.value.path == path
    assert caught.value.revision == REVISION
    assert "TOP-SECRET" not in str(caught.value)
    assert "root:" not in str(caught.value)


def test_a_symlinked_library_outside_the_repository_is_refused(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "evil.libsonnet").write_text("{ secret: 'TOP-SECRET' }")
    (repo / "vendor" / "evil.libsonnet").symlink_to(tmp_path / "evil.libsonnet")
    _write(repo, {"apps/web/evil.jsonnet": "import 'evil.libsonnet'\n"})

    with pytest.raises(PathEscapeError, match="resolves outside the repository") as caught:
        _renderer(include="evil.jsonnet").render(_snapshot(repo))

    assert caught.value.path == "vendor/evil.libsonnet"
    assert "TOP-SECRET" not in str(caught.value)


def test_a_symlink_in_the_folder_or_a_library_folder_outside_is_refused(tmp_path: Path, repo: Path) -> None:
    outside = tmp_path / "outside"
    _write(outside, {"x.jsonnet": "{ secret: 'TOP-SECRET' }"})
    (repo / "apps/web/x.jsonnet").symlink_to(outside / "x.jsonnet")
    with pytest.raises(PathEscapeError, match=r"symlink 'apps/web/x\.jsonnet'"):
        _renderer().render(_snapshot(repo))
    (repo / "apps/web/x.jsonnet").unlink()

    (repo / "linked-lib").symlink_to(outside, target_is_directory=True)
    with pytest.raises(PathEscapeError, match="library folder 'linked-lib'"):
        _renderer(libs=["linked-lib"]).render(_snapshot(repo))


def test_output_over_the_limit_is_refused(repo: Path) -> None:
    _write(
        repo,
        {
            "apps/web/big.jsonnet": "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'big'}, "
            "data: { x: std.join('', std.makeArray(5000, function(i) 'xxxxxxxxxx')) } }\n"
        },
    )
    with pytest.raises(ToolError, match="output limit") as caught:
        _renderer(include="big.jsonnet", max_output=10_000).render(_snapshot(repo))
    assert caught.value.file == "apps/web/big.jsonnet"
    with pytest.raises(ManifestError, match="over the limit"):
        _renderer(include="big.jsonnet", max_file_bytes=50).render(_snapshot(repo))


# --- errors -----------------------------------------------------------------------------------------------------


def test_a_runtime_error_names_the_file_and_line(repo: Path) -> None:
    _write(
        repo,
        {
            "vendor/broken.libsonnet": "{\n  f(x):: error 'bad input: ' + x,\n}\n",
            "apps/web/fail.jsonnet": "local b = import 'broken.libsonnet';\n{ a: b.f('oops') }\n",
        },
    )

    with pytest.raises(ToolError) as caught:
        _renderer(include="fail.jsonnet").render(_snapshot(repo))

    error = caught.value
    assert error.tool == "jsonnet"
    assert error.file == "vendor/broken.libsonnet"  # where the error was raised
    assert str(error).startswith("jsonnet: vendor/broken.libsonnet:2: RUNTIME ERROR: bad input: oops")
    assert "apps/web/fail.jsonnet:2" in error.stderr  # the stack trace is kept
    assert error.revision == REVISION


def test_a_syntax_error_and_a_missing_variable_are_tool_errors(repo: Path) -> None:
    _write(repo, {"apps/web/syntax.jsonnet": "{\n  a: ,\n}\n"})
    with pytest.raises(ToolError, match=r"^jsonnet: apps/web/syntax.jsonnet:2: .*Unexpected") as caught:
        _renderer(include="syntax.jsonnet").render(_snapshot(repo))
    assert caught.value.file == "apps/web/syntax.jsonnet"

    with pytest.raises(ToolError, match="Undefined external variable: env"):
        JsonnetRenderer(include="main.jsonnet", libs=["vendor"], tla_code={"replicas": "1"}).render(_snapshot(repo))


def test_a_missing_import_is_a_tool_error(repo: Path) -> None:
    _write(repo, {"apps/web/missing.jsonnet": "import 'nowhere.libsonnet'\n"})
    with pytest.raises(ToolError, match=r"'nowhere\.libsonnet' not found"):
        _renderer(include="missing.jsonnet").render(_snapshot(repo))


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("'text'", "not str"),
        ("[{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: 'a'} }, 3]", "not int"),
        ("{ apiVersion: 'v1', kind: 'ConfigMap' }", "no metadata"),
    ],
)
def test_results_that_are_not_objects_are_manifest_errors(repo: Path, source: str, problem: str) -> None:
    _write(repo, {"apps/web/odd.jsonnet": source})
    with pytest.raises(ManifestError, match=problem) as caught:
        _renderer(include="odd.jsonnet").render(_snapshot(repo))
    assert caught.value.file == "apps/web/odd.jsonnet"


def test_duplicates_across_files_are_refused(repo: Path) -> None:
    _write(repo, {"apps/web/again.jsonnet": "{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } }"})
    with pytest.raises(DuplicateResourceError):
        _renderer().render(_snapshot(repo))


def test_the_application_folder_must_exist_inside(repo: Path) -> None:
    with pytest.raises(PathEscapeError):
        _renderer().render(_snapshot(repo, "../.."))
    with pytest.raises(Exception, match="does not exist"):
        _renderer().render(_snapshot(repo, "apps/nope"))


# --- fingerprint ------------------------------------------------------------------------------------------------


def test_the_fingerprint_names_the_configuration_and_go_jsonnet_version() -> None:
    renderer = _renderer()

    fingerprint = renderer.fingerprint()

    assert json.loads(fingerprint)["version"] == _gojsonnet.version
    assert json.loads(fingerprint)["config"]["ext_vars"] == {"env": "prod"}
    assert renderer.fingerprint() is fingerprint
    assert _renderer().fingerprint() == fingerprint
    assert _renderer(ext_vars={"env": "dev"}).fingerprint() != fingerprint
    assert _renderer(libs=["vendor", "more"]).fingerprint() != fingerprint
    assert json.loads(fingerprint)["config"]["timeout"] == 90.0
    assert _renderer(timeout=5.0).fingerprint() != fingerprint


# --- time limit ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "local f(x) = f(x + 1) tailstrict; f(0)",  # endless recursion in constant stack: max_stack never trips
        "local f(n) = if n == 0 then 1 else f(n - 1) + f(n - 1); { n: f(80) }",  # exponential
    ],
)
def test_a_program_that_runs_forever_is_stopped_at_the_time_limit(repo: Path, source: str) -> None:
    _write(repo, {"apps/web/forever.jsonnet": source})
    started = time.monotonic()

    with pytest.raises(
        ToolError, match=r"^jsonnet: apps/web/forever\.jsonnet: stopped after 0\.5 s \(time limit\)"
    ) as e:
        _renderer(timeout=0.5).render(_snapshot(repo))

    assert time.monotonic() - started < 10
    assert e.value.tool == "jsonnet"
    assert e.value.file == "apps/web/forever.jsonnet"  # the file it was evaluating when stopped
    assert e.value.exit_code is None
    assert e.value.revision == REVISION


def test_no_matching_file_renders_nothing(repo: Path) -> None:
    assert _renderer(include="nothing.jsonnet").render(_snapshot(repo)) == ()
