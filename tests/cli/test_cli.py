"""The ``reconcile`` command: every verb on the in-memory cluster and local folders, then on a real API server."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import reconcile as rc
from reconcile.cli import main
from reconcile.cluster._memory import MemoryCluster
from reconcile.manifests import load_manifests
from reconcile.model import ResourceKey
from reconcile.testing._controlplane import ControlPlane

APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://git.example.com/{name}.git
    targetRevision: main
    path: {path}
  destination:
    server: https://kubernetes.default.svc
    namespace: {namespace}
"""

CONFIGMAPS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
data:
  color: blue
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: second
  annotations:
    argocd.argoproj.io/sync-wave: "1"
data:
  size: large
"""


def write_app(folder: Path, name: str = "demo", *, path: str = "manifests", namespace: str = "default") -> Path:
    file = folder / f"{name}.yaml"
    file.write_text(APP.format(name=name, path=path, namespace=namespace))
    return file


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "configmaps.yaml").write_text(CONFIGMAPS)
    return folder


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    apps = tmp_path / "apps"
    apps.mkdir()
    return write_app(apps)


@pytest.fixture
def cluster() -> MemoryCluster:
    return MemoryCluster()


def run(capsys: pytest.CaptureFixture[str], *argv: str, cluster: MemoryCluster | None = None) -> tuple[int, str, str]:
    code = main(list(argv), cluster=cluster)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def header(out: str) -> dict[str, str]:
    """The ``Name:  value`` lines ``get`` and ``sync`` print before their tables."""
    lines = out.split("\n\n", maxsplit=1)[0].splitlines() if ": " in out else []
    return {name: value.strip() for name, _, value in (line.partition(":") for line in lines) if value}


CM_FIRST = ResourceKey("", "ConfigMap", "default", "first")
CM_SECOND = ResourceKey("", "ConfigMap", "default", "second")


# ------------------------------------------------------------------------------------------------
# diff, plan, sync, get, wait on the in-memory cluster


def test_diff_exits_1_with_a_unified_diff_then_0_after_sync(capsys, app_file, manifests, cluster):
    code, out, err = run(capsys, "app", "diff", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert (code, err) == (1, "")
    assert "+++ predicted/ConfigMap/default/first" in out
    assert "+  color: blue" in out

    code, out, _ = run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert code == 0, out
    assert cluster.get(CM_FIRST)["data"] == {"color": "blue"}
    assert cluster.get(CM_SECOND)["data"] == {"size": "large"}

    code, out, err = run(capsys, "app", "diff", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert (code, out, err) == (0, "", "")


def test_diff_as_json_names_each_missing_object(capsys, app_file, manifests):
    code, out, _ = run(capsys, "app", "diff", "-f", str(app_file), "--local", str(manifests), "--memory", "-o", "json")
    assert code == 1
    document = json.loads(out)
    assert document["app"] == "demo"
    assert document["status"] == "OutOfSync"
    assert [(r["kind"], r["name"], r["state"]) for r in document["resources"]] == [
        ("ConfigMap", "first", "missing"),
        ("ConfigMap", "second", "missing"),
    ]


def test_diff_shows_drift_as_changes(capsys, app_file, manifests, cluster):
    assert run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), cluster=cluster)[0] == 0
    cluster.patch(CM_FIRST, {"data": {"color": "red"}}, field_manager="kubectl")
    code, out, _ = run(
        capsys, "app", "diff", "-f", str(app_file), "--local", str(manifests), "-o", "yaml", cluster=cluster
    )
    assert code == 1
    [document] = [obj for obj, _ in load_manifests(out, file="out.yaml")]
    [changed] = document["resources"]
    assert changed["name"] == "first"
    assert changed["changes"] == [{"op": "replace", "path": "/data/color", "old": "red", "new": "blue"}]


def test_plan_lists_waves_and_changes_nothing(capsys, app_file, manifests, cluster):
    code, out, _ = run(capsys, "app", "plan", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert code == 0
    assert out.splitlines() == [
        "sync plan for demo: 2 to create, 0 to update, 0 to prune, 0 unchanged, 0 skipped",
        "Sync wave 0:",
        "  create  default/configmap/first  (missing)",
        "Sync wave 1:",
        "  create  default/configmap/second  (missing)",
    ]
    assert cluster.get(CM_FIRST) is None
    code, out, _ = run(capsys, "app", "plan", "-f", str(app_file), "--local", str(manifests), "-o", "json", "--memory")
    steps = json.loads(out)["steps"]
    assert [(s["phase"], s["wave"], [t["name"] for t in s["tasks"]]) for s in steps] == [
        ("Sync", 0, ["first"]),
        ("Sync", 1, ["second"]),
    ]


def test_sync_prints_plain_progress_by_wave_when_not_a_terminal(capsys, app_file, manifests, cluster):
    code, out, _ = run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert code == 0
    lines = out.splitlines()
    assert re.fullmatch(r"syncing demo at [0-9a-f]{7}", lines[0])  # the local folder's content digest
    assert "Sync wave 0: Synced (1/1)" in lines
    assert "Sync wave 1: Synced (1/1)" in lines
    assert lines.index("Sync wave 0: Synced (1/1)") < lines.index("Sync wave 1: Synced (1/1)")
    assert "\x1b[" not in out  # no ANSI codes in a pipe
    assert "Phase:       Succeeded" in lines
    assert any(line.split()[:4] == ["ConfigMap", "default", "first", "Synced"] for line in lines)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_sync_redraws_a_live_table_on_a_terminal(app_file, manifests, cluster, monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    out, err = Terminal(), io.StringIO()
    argv = ["app", "sync", "-f", str(app_file), "--local", str(manifests)]
    assert main(argv, cluster=cluster, stdout=out, stderr=err) == 0
    text = out.getvalue()
    assert "\x1b[" in text
    assert "F\x1b[J" in text
    last_drawing = text.rsplit("\x1b[J", 1)[1]
    rows = [line.split() for line in last_drawing.splitlines()]
    assert ["PHASE", "WAVE", "OBJECTS", "STATE", "MESSAGE"] in rows
    assert ["Sync", "0", "1/1", "Synced"] in rows
    assert ["Sync", "1", "1/1", "Synced"] in rows
    assert err.getvalue() == ""


@pytest.mark.parametrize("no_color", [False, True])
def test_tree_is_in_colour_on_a_terminal_unless_no_color(app_file, manifests, cluster, monkeypatch, no_color):
    monkeypatch.setenv("TERM", "xterm")
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    out = Terminal()
    assert main(["app", "tree", "-f", str(app_file), "--local", str(manifests)], cluster=cluster, stdout=out) == 0
    missing = "\x1b[38;2;244;192;48m\u2205 Missing\x1b[0m"  # Argo CD's yellow
    assert (missing in out.getvalue()) is not no_color
    assert ("\x1b[" in out.getvalue()) is not no_color


def test_sync_dry_run_changes_nothing(capsys, app_file, manifests, cluster):
    argv = ("app", "sync", "-f", str(app_file), "--local", str(manifests), "--dry-run", "-o", "json")
    code, out, err = run(capsys, *argv, cluster=cluster)
    assert code == 0
    document = json.loads(out)
    assert document["dryRun"] is True
    assert document["phase"] == "Succeeded"
    assert {r["message"] for r in document["resources"]} == {
        "configmap/first created (dry run)",
        "configmap/second created (dry run)",
    }
    assert "Sync wave" in err  # progress goes to stderr when stdout carries a document
    assert cluster.get(CM_FIRST) is None


def test_sync_prunes_only_with_prune(capsys, app_file, manifests, cluster):
    assert run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), cluster=cluster)[0] == 0
    (manifests / "configmaps.yaml").write_text(CONFIGMAPS.split("---", maxsplit=1)[0])
    code, out, _ = run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert code == 0
    assert "ignored (requires pruning)" in out
    assert cluster.get(CM_SECOND) is not None
    code, out, _ = run(
        capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), "--prune", "-o", "wide", cluster=cluster
    )
    assert code == 0
    assert any(
        line.split()[:6] == ["ConfigMap", "default", "second", "Pruned", "prune", "pruned"] for line in out.splitlines()
    )
    assert cluster.get(CM_SECOND) is None


def test_sync_failure_exits_1(capsys, app_file, tmp_path, cluster):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "widget.yaml").write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n")
    code, out, _ = run(capsys, "app", "sync", "-f", str(app_file), "--local", str(bad), cluster=cluster)
    assert code == 1
    assert "Phase:       Failed" in out
    assert "SyncFailed" in out


def test_get_shows_status_and_objects(capsys, app_file, manifests, cluster):
    code, out, _ = run(capsys, "app", "get", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert code == 0
    assert header(out)["Sync Status"].startswith("OutOfSync (")
    assert any(line.split() == ["ConfigMap", "default", "first", "OutOfSync"] for line in out.splitlines())
    run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    code, out, _ = run(
        capsys, "app", "get", "-f", str(app_file), "--local", str(manifests), "-o", "json", cluster=cluster
    )
    document = json.loads(out)
    assert document["kind"] == "Application"
    assert document["metadata"]["name"] == "demo"
    assert document["status"]["sync"]["status"] == "Synced"
    assert len(document["status"]["sync"]["revision"]) == 40
    assert document["status"]["health"] == {"status": "Healthy"}
    assert [(r["kind"], r["name"], r["status"]) for r in document["status"]["resources"]] == [
        ("ConfigMap", "first", "Synced"),
        ("ConfigMap", "second", "Synced"),
    ]


def test_tree_draws_the_objects_with_their_status_and_get_lists_the_troubled_ones(capsys, app_file, manifests, cluster):
    common = ("-f", str(app_file), "--local", str(manifests))
    code, out, _ = run(capsys, "app", "tree", *common, cluster=cluster)
    assert code == 0
    assert out.splitlines() == [
        "demo (Application)  \u2191 OutOfSync  \u2205 Missing  no object of the application exists",
        "\u251c\u2500 ConfigMap default/first  \u2191 OutOfSync  \u2205 Missing",
        "\u2514\u2500 ConfigMap default/second  \u2191 OutOfSync  \u2205 Missing",
    ]
    assert "\x1b[" not in out  # not a terminal: no colour
    code, out, _ = run(capsys, "app", "get", *common, cluster=cluster)
    assert code == 0
    trouble = out.split("RESOURCES IN TROUBLE\n", 1)[1].splitlines()
    assert trouble == ["ConfigMap default/first  \u2205 Missing", "ConfigMap default/second  \u2205 Missing"]

    run(capsys, "app", "sync", *common, cluster=cluster)
    code, out, _ = run(capsys, "app", "tree", *common, "-o", "json", cluster=cluster)
    document = json.loads(out)
    assert (document["kind"], document["name"], document["syncStatus"]) == ("Application", "demo", "Synced")
    assert [(c["kind"], c["name"], c["syncStatus"], c["managed"]) for c in document["children"]] == [
        ("ConfigMap", "first", "Synced", True),
        ("ConfigMap", "second", "Synced", True),
    ]
    code, out, _ = run(capsys, "app", "get", *common, cluster=cluster)
    assert "RESOURCES IN TROUBLE" not in out
    code, _, err = run(capsys, "app", "tree", *common, "--max-children", "0", cluster=cluster)
    assert code == 2
    assert "--max-children" in err


def test_get_never_syncs_an_automated_application(capsys, tmp_path, manifests, cluster):
    app = tmp_path / "auto.yaml"
    text = APP.format(name="auto", path="manifests", namespace="default")
    app.write_text(text + "  syncPolicy:\n    automated:\n      prune: true\n      selfHeal: true\n")
    code, out, _ = run(capsys, "app", "get", "-f", str(app), "--local", str(manifests), cluster=cluster)
    assert code == 0
    assert "OutOfSync" in out
    assert cluster.get(CM_FIRST) is None


def test_wait_returns_once_synced_and_healthy(capsys, app_file, manifests, cluster):
    run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    code, out, err = run(capsys, "app", "wait", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert (code, err) == (0, "")
    assert header(out)["Sync Status"].startswith("Synced (")
    assert header(out)["Health Status"] == "Healthy"


def test_wait_times_out_with_exit_1(capsys, app_file, manifests, cluster):
    argv = ("app", "wait", "-f", str(app_file), "--local", str(manifests), "--timeout", "0.2", "--interval", "0.05")
    code, _, err = run(capsys, *argv, cluster=cluster)
    assert code == 1
    assert err.startswith("error: timed out after 0.2s waiting for demo: sync status OutOfSync")
    code, _, err = run(capsys, *argv, "--health", cluster=cluster)
    assert code == 1, "health alone: the missing objects make the app Missing, not Healthy"


# ------------------------------------------------------------------------------------------------
# Helm chart, folders of Applications


@pytest.mark.integration
def test_diff_and_sync_a_local_helm_chart(capsys, tmp_path, cluster, monkeypatch, helm_binary):
    monkeypatch.setenv("PATH", f"{Path(helm_binary).parent}{os.pathsep}{os.environ['PATH']}")
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "cm.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-settings
            data:
              greeting: {{ .Values.greeting | quote }}
            """
        )
    )
    app = write_app(tmp_path, "web", path="chart")
    code, out, _ = run(capsys, "app", "diff", "-f", str(app), "--local", str(chart), cluster=cluster)
    assert code == 1
    assert "+++ predicted/ConfigMap/default/web-settings" in out
    assert "+  greeting: hello" in out
    assert run(capsys, "app", "sync", "-f", str(app), "--local", str(chart), cluster=cluster)[0] == 0
    assert cluster.get(ResourceKey("", "ConfigMap", "default", "web-settings"))["data"] == {"greeting": "hello"}
    assert run(capsys, "app", "diff", "-f", str(app), "--local", str(chart), cluster=cluster)[0] == 0


def test_list_reads_a_folder_and_skips_other_yaml(capsys, tmp_path, manifests):
    apps = tmp_path / "apps"
    apps.mkdir()
    write_app(apps, "alpha", namespace="team-a")
    write_app(apps, "beta", namespace="team-b")
    (apps / "not-an-app.yaml").write_text(CONFIGMAPS)
    code, out, _ = run(capsys, "app", "list", "-f", str(apps))
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == ["NAME", "NAMESPACE", "SERVER", "SOURCE", "SYNCPOLICY"]
    assert [row[:2] for row in rows[1:]] == [["alpha", "team-a"], ["beta", "team-b"]]
    code, out, _ = run(capsys, "app", "list", "-f", str(apps), "-o", "json")
    assert [item["metadata"]["name"] for item in json.loads(out)["items"]] == ["alpha", "beta"]


def test_several_applications_need_app(capsys, tmp_path, manifests, cluster):
    apps = tmp_path / "apps"
    apps.mkdir()
    write_app(apps, "alpha")
    write_app(apps, "beta")
    code, out, err = run(capsys, "app", "diff", "-f", str(apps), "--local", str(manifests), cluster=cluster)
    assert (code, out) == (2, "")
    assert err == "error: 2 Applications found (alpha, beta); pick one with --app\n"
    code, out, _ = run(
        capsys, "app", "diff", "-f", str(apps), "--app", "beta", "--local", str(manifests), cluster=cluster
    )
    assert code == 1
    assert "reconcile.dev/tracking-id: beta:" in out
    code, _, err = run(capsys, "app", "get", "-f", str(apps), "--app", "gamma", "--memory")
    assert (code, err) == (2, "error: no Application named 'gamma'; found: alpha, beta\n")


# ------------------------------------------------------------------------------------------------
# Errors and usage


def test_errors_are_one_line_and_details_come_with_verbose(capsys, app_file, tmp_path, cluster):
    missing = tmp_path / "nowhere"
    code, out, err = run(capsys, "app", "diff", "-f", str(app_file), "--local", str(missing), cluster=cluster)
    assert (code, out) == (2, "")
    assert err.startswith("error: ")
    assert str(missing) in err
    assert len(err.splitlines()) == 1
    code, _, err = run(capsys, "app", "diff", "-f", str(app_file), "--local", str(missing), "-v", cluster=cluster)
    assert code == 2
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("error: ")


def test_unsupported_fields_are_warnings_on_stderr(capsys, tmp_path):
    app = tmp_path / "app.yaml"
    app.write_text(
        APP.format(name="odd", path="manifests", namespace="default") + "  revisionHistoryLimit: 3\n  info: []\n"
    )
    code, out, err = run(capsys, "app", "list", "-f", str(app))
    assert code == 0
    assert out.splitlines()[1].split()[0] == "odd"
    # Each warning names the file, the line and the Application: a folder holds many.
    assert err.splitlines() == [
        f"warning: {app}:1: Application argocd/odd: spec.revisionHistoryLimit: not supported by reconcile; ignored",
        f"warning: {app}:1: Application argocd/odd: spec.info: not supported by reconcile; ignored",
    ]


def test_a_plugin_application_is_an_error_naming_it_and_syncs_nothing(capsys, tmp_path, manifests, cluster):
    app = tmp_path / "app.yaml"
    text = APP.format(name="cmp", path="manifests", namespace="default")
    app.write_text(text.replace("    path: manifests\n", "    path: manifests\n    plugin:\n      name: avp\n"))
    code, _, err = run(capsys, "app", "list", "-f", str(app))
    assert (code, err) == (0, ""), "listed all the same"
    code, _, err = run(capsys, "app", "sync", "-f", str(app), "--local", str(manifests), cluster=cluster)
    assert code == 2
    assert err.startswith(
        "error: Application argocd/cmp: spec.source.plugin: the config management plugin 'avp' is not registered"
    )
    assert cluster.get(CM_FIRST) is None


def test_a_missing_application_file_is_exit_2(capsys, tmp_path):
    code, out, err = run(capsys, "app", "get", "-f", str(tmp_path / "absent.yaml"), "--memory")
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path / 'absent.yaml'}: no such file or folder\n"


def test_a_bad_kubeconfig_is_exit_2(capsys, app_file, manifests, tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    code, _, err = run(
        capsys, "app", "diff", "-f", str(app_file), "--local", str(manifests), "--kubeconfig", str(config)
    )
    assert code == 2
    assert err.startswith(f"error: cannot load {config}")


def test_usage_errors_exit_2_and_help_exits_0(capsys):
    code, _, err = run(capsys, "app", "diff")
    assert code == 2
    assert "the following arguments are required: -f/--file" in err
    code, _, err = run(capsys, "app", "sync", "-f", "x", "-o", "xml")
    assert code == 2
    assert "invalid choice: 'xml'" in err
    code, out, _ = run(capsys, "app", "sync", "--help")
    assert code == 0
    for option in ("--kubeconfig", "--context", "--memory", "--revision", "--local", "--dry-run", "--prune"):
        assert option in out
    assert "--server-side, --no-server-side" in out


def test_verbose_logs_the_library_events_to_stderr(capsys, app_file, manifests, cluster):
    code, out, err = run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), "-v", cluster=cluster)
    assert code == 0
    assert "reconcile.sync.applied" in err
    assert "reconcile.sync" not in out
    code, _, err = run(capsys, "app", "diff", "-f", str(app_file), "--local", str(manifests), cluster=cluster)
    assert (code, err) == (0, ""), "without -v the library logs nothing"


# ------------------------------------------------------------------------------------------------
# The real control plane


@pytest.mark.integration
def test_diff_sync_and_get_on_a_real_cluster(capsys, control_plane: ControlPlane, kube_namespace, tmp_path, manifests):
    app = write_app(tmp_path, "real", namespace=kube_namespace)
    common = ("-f", str(app), "--local", str(manifests), "--kubeconfig", str(control_plane.kubeconfig))
    code, out, err = run(capsys, "app", "diff", *common)
    assert (code, err) == (1, "")
    assert f"+++ predicted/ConfigMap/{kube_namespace}/first" in out

    code, out, _ = run(capsys, "app", "sync", *common)
    assert code == 0, out
    assert "Sync wave 1: Synced (1/1)" in out

    code, out, err = run(capsys, "app", "diff", *common)
    assert (code, out, err) == (0, "", "")

    code, out, _ = run(capsys, "app", "get", *common, "-o", "json")
    assert code == 0
    status = json.loads(out)["status"]
    assert status["sync"]["status"] == "Synced"
    assert status["health"]["status"] == "Healthy"
    assert [(r["namespace"], r["name"]) for r in status["resources"]] == [
        (kube_namespace, "first"),
        (kube_namespace, "second"),
    ]
    live = control_plane.request("GET", f"/api/v1/namespaces/{kube_namespace}/configmaps/second")
    assert live["data"] == {"size": "large"}


@pytest.mark.integration
def test_context_must_exist_in_the_kubeconfig(capsys, control_plane: ControlPlane, app_file, manifests):
    argv = (
        "app",
        "diff",
        "-f",
        str(app_file),
        "--local",
        str(manifests),
        "--kubeconfig",
        str(control_plane.kubeconfig),
    )
    code, _, err = run(capsys, *argv, "--context", "nope")
    assert code == 2
    assert "nope" in err


# ------------------------------------------------------------------------------------------------
# The installed command


def test_the_module_runs_as_a_program(tmp_path, manifests):
    apps = tmp_path / "apps"
    apps.mkdir()
    write_app(apps, "alpha")
    command = [sys.executable, "-m", "reconcile.cli", "app", "diff", "-f", str(apps), "--memory"]
    done = subprocess.run(
        [*command, "--local", str(manifests)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "+++ predicted/ConfigMap/default/first" in done.stdout
    version = subprocess.run(
        [sys.executable, "-m", "reconcile.cli", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (version.returncode, version.stdout.split()[0]) == (0, "reconcile")


def test_the_console_script_is_registered():
    from importlib.metadata import entry_points

    [script] = entry_points(group="console_scripts", name="reconcile")
    assert script.value == "reconcile.cli:main"
    assert script.load() is main
    # The script itself sits beside the interpreter of an installed environment (a venv, nox, pip install -e).
    installed = Path(sys.executable).parent / "reconcile"
    if installed.is_file():
        done = subprocess.run([str(installed), "--version"], capture_output=True, text=True, timeout=60, check=False)
        assert done.stdout.split()[0] == "reconcile"


def test_delete_removes_the_apps_objects_with_a_dry_run_first(capsys, app_file, manifests, cluster):
    assert run(capsys, "app", "sync", "-f", str(app_file), "--local", str(manifests), cluster=cluster)[0] == 0

    code, out, _ = run(capsys, "app", "delete", "-f", str(app_file), "--dry-run", "-o", "json", cluster=cluster)
    assert code == 0, out
    assert {r["message"] for r in json.loads(out)["resources"]} == {"deleted (dry run)"}
    assert cluster.get(CM_FIRST) is not None

    code, out, _ = run(
        capsys, "app", "delete", "-f", str(app_file), "--propagation-policy", "background", cluster=cluster
    )
    assert code == 0, out
    assert cluster.get(CM_FIRST) is None
    assert cluster.get(CM_SECOND) is None


# ------------------------------------------------------------------------------------------------
# Credentials


def test_no_output_path_prints_a_repository_credential(capsys, tmp_path, manifests, cluster):
    apps = tmp_path / "apps"
    apps.mkdir()
    text = APP.format(name="creds", path="manifests", namespace="default").replace(
        "https://git.example.com/creds.git", "http://ci:USERTOKEN1@127.0.0.1:9/apps.git?access_token=QUERYTOKEN2"
    )
    (apps / "creds.yaml").write_text(text)
    secrets = ("USERTOKEN1", "QUERYTOKEN2")
    printed = []
    for output in ("table", "wide", "json", "yaml"):
        code, out, err = run(
            capsys, "app", "get", "-f", str(apps), "--local", str(manifests), "-o", output, cluster=cluster
        )
        assert code == 0, err
        printed.append(out + err)
        code, out, err = run(capsys, "app", "list", "-f", str(apps), "-o", output)
        assert code == 0, err
        printed.append(out + err)
    # Fetching for real fails (nothing listens on port 9): the error, the result and the debug log name the URL.
    code, out, err = run(capsys, "app", "get", "-f", str(apps), "-vv", "-o", "yaml", cluster=cluster)
    assert "127.0.0.1:9" in out + err
    assert "reconcile.pass.failed" in err
    printed.append(out + err)
    for text in printed:
        for secret in secrets:
            assert secret not in text
    assert "http://127.0.0.1:9/apps.git?access_token=***" in printed[0]


# ------------------------------------------------------------------------------------------------
# Applications of one name in two namespaces


def test_one_name_in_two_namespaces_is_two_applications(capsys, tmp_path, cluster):
    apps = tmp_path / "apps"
    apps.mkdir()
    for team in ("a", "b"):
        folder = tmp_path / f"manifests-{team}"
        folder.mkdir()
        (folder / "cm.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{team}\n")
        text = APP.format(name="web", path=f"manifests-{team}", namespace="default")
        if team == "b":
            text = text.replace("namespace: argocd", "namespace: team-b")
        (apps / f"web-{team}.yaml").write_text(text + "  syncPolicy:\n    automated:\n      prune: true\n")

    code, out, err = run(capsys, "app", "list", "-f", str(apps))
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["web", "team-b/web"]
    code, _, err = run(capsys, "app", "get", "-f", str(apps), "--app", "web", cluster=cluster)
    assert (code, err) == (
        2,
        "error: 'web' names Applications in several namespaces (argocd/web, team-b/web): give --app NS/NAME\n",
    )

    for team, app in (("a", "argocd/web"), ("b", "team-b/web"), ("a", "argocd/web")):
        folder = str(tmp_path / f"manifests-{team}")
        code, out, err = run(
            capsys, "app", "sync", "-f", str(apps), "--app", app, "--local", folder, "--prune", cluster=cluster
        )
        assert code == 0, out + err
        assert "prune" not in out.lower(), out
    a = cluster.get(ResourceKey("", "ConfigMap", "default", "cm-a"))
    b = cluster.get(ResourceKey("", "ConfigMap", "default", "cm-b"))
    assert a is not None
    assert b is not None
    assert b["metadata"]["annotations"]["reconcile.dev/tracking-id"] == "team-b_web:/ConfigMap:default/cm-b"
    code, out, _ = run(
        capsys,
        "app",
        "sync",
        "-f",
        str(apps),
        "--app",
        "team-b/web",
        "-o",
        "json",
        "--local",
        str(tmp_path / "manifests-b"),
        cluster=cluster,
    )
    assert json.loads(out)["app"] == "team-b/web"


def test_an_empty_render_is_said_on_stderr_by_every_verb(capsys, app_file, tmp_path, cluster):
    empty = tmp_path / "empty"
    empty.mkdir()
    for verb in ("get", "diff", "sync", "plan"):
        code, out, err = run(capsys, "app", verb, "-f", str(app_file), "--local", str(empty), cluster=cluster)
        assert code == 0, out + err
        assert err.startswith("warning: demo: rendered 0 objects from "), (verb, err)


@pytest.mark.integration
def test_repo_creds_from_argo_cd_secrets_let_an_application_fetch_a_private_repository(capsys, tmp_path, cluster):
    repository = rc.testing.LocalRepository.init(tmp_path / "srv" / "apps.git")
    repository.commit({"manifests/configmaps.yaml": CONFIGMAPS}, "the app")
    with rc.testing.GitHTTPServer(tmp_path / "srv", username="ci", password="private-token-7") as server:
        app = tmp_path / "app.yaml"
        text = APP.format(name="private", path="manifests", namespace="default")
        app.write_text(text.replace("https://git.example.com/private.git", server.url_for("apps.git")))
        code, _, err = run(capsys, "app", "get", "-f", str(app), "--cache-dir", str(tmp_path / "c"), cluster=cluster)
        assert code == 2
        assert "requires credentials" in err
        creds = tmp_path / "creds.yaml"
        creds.write_text(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: local\n  labels:\n"
            "    argocd.argoproj.io/secret-type: repo-creds\n"
            f"stringData:\n  url: {server.url}/\n  username: ci\n  password: private-token-7\n"
        )
        code, out, err = run(
            capsys, "app", "sync", "-f", str(app), "--repo-creds", str(creds), "--cache-dir", str(tmp_path / "c"),
            cluster=cluster,
        )  # fmt: skip
    assert code == 0, out + err
    assert cluster.get(CM_FIRST) is not None
    assert "private-token-7" not in out + err


@pytest.mark.integration
def test_an_oci_chart_behind_tls_and_a_password_syncs_with_repo_creds_and_a_registry_config(
    capsys, tmp_path, cluster, helm_binary, monkeypatch
):
    monkeypatch.setenv("PATH", f"{Path(helm_binary).parent}:/usr/bin:/bin")
    chart = rc.testing.write_chart(tmp_path / "src", "web", "1.2.0", {"templates/cm.yaml": CONFIGMAPS})
    subprocess.run([helm_binary, "package", str(chart), "-d", str(tmp_path)], check=True, capture_output=True)
    with rc.testing.OCIRegistry(tmp_path / "registry", username="ci", password="oci-pw-31", tls=True) as registry:
        pushed = subprocess.run(
            [helm_binary, "push", str(tmp_path / "web-1.2.0.tgz"), f"oci://{registry.host}/charts",
             "--ca-file", str(registry.ca_file), "--username", "ci", "--password", "oci-pw-31"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert pushed.returncode == 0, pushed.stderr
        app = tmp_path / "app.yaml"
        text = APP.format(name="oci", path="unused", namespace="default")
        source = f"    repoURL: {registry.host}/charts\n    chart: web\n    targetRevision: ^1\n"
        app.write_text(re.sub(r"    repoURL: .*\n    targetRevision: main\n    path: unused\n", source, text))
        pem = textwrap.indent(registry.ca_file.read_text(), "    ")
        creds = tmp_path / "tls.yaml"
        creds.write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-tls-certs-cm\ndata:\n  127.0.0.1: |\n{pem}"
        )
        config = tmp_path / "config.json"
        auth = __import__("base64").b64encode(b"ci:oci-pw-31").decode()
        config.write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
        common = ("-f", str(app), "--cache-dir", str(tmp_path / "c"), "--repo-creds", str(creds))
        code, _, err = run(capsys, "app", "get", *common, cluster=cluster)
        assert code == 2
        assert "requires credentials" in err
        code, out, err = run(capsys, "app", "sync", *common, "--registry-config", str(config), cluster=cluster)
    assert code == 0, out + err
    assert cluster.get(CM_FIRST) is not None
    assert "oci-pw-31" not in out + err


def test_app_actions_list_and_run_use_argo_cds_catalogue(capsys, tmp_path, cluster):
    catalogue = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "argocd-resource-customizations"
    if not catalogue.is_dir():
        pytest.skip(f"Argo CD's resource customizations not found at {catalogue}")
    local = tmp_path / "local"
    local.mkdir()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "w", "image": "x"}]}},
        },
    }
    (local / "web.yaml").write_text(json.dumps(deployment))
    app = tmp_path / "app.yaml"
    app.write_text(APP.format(name="shop", path="web", namespace="default"))
    common = ("-f", str(app), "--local", str(local), "--catalogue", str(catalogue))
    code, out, err = run(capsys, "app", "sync", *common, cluster=cluster)
    assert code == 0, out + err
    target = ("--kind", "Deployment", "--group", "apps", "--resource-name", "web")
    code, out, err = run(capsys, "app", "actions", "list", *common, *target, cluster=cluster)
    assert code == 0, err
    assert out.split("\n")[0].split() == ["ACTION", "DISABLED", "PARAMS"]
    assert {line.split()[0] for line in out.strip().split("\n")[1:]} == {"pause", "restart", "resume", "scale"}
    code, out, err = run(
        capsys, "app", "actions", "run", *common, *target, "scale", "--param", "replicas=4", cluster=cluster
    )
    assert code == 0, err
    assert out == "apps/Deployment/default/web patched\n"
    assert cluster.get(ResourceKey("apps", "Deployment", "default", "web"))["spec"]["replicas"] == 4
    code, _, err = run(
        capsys, "app", "actions", "run", *common, *target, "scale", "--param", "replicas=x", cluster=cluster
    )
    assert code == 2
    assert "invalid number: x" in err


def test_app_orphans_lists_what_no_application_tracks_and_adopt_takes_argo_cds_objects(capsys, tmp_path, cluster):
    local = tmp_path / "local"
    local.mkdir()
    (local / "first.yaml").write_text(CONFIGMAPS)
    app = tmp_path / "app.yaml"
    app.write_text(APP.format(name="shop", path="x", namespace="default"))
    cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "stray", "namespace": "default"}})
    argo = "shop:/ConfigMap:default/left-by-argo"
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "left-by-argo",
                "namespace": "default",
                "annotations": {"argocd.argoproj.io/tracking-id": argo},
            },
        }
    )
    common = ("-f", str(app), "--local", str(local))
    code, out, err = run(capsys, "app", "orphans", *common, cluster=cluster)
    assert code == 0, err
    rows = [line.split() for line in out.strip().split("\n")[1:]]
    assert ["ConfigMap", "default", "stray"] in rows
    assert all("left-by-argo" not in row for row in rows)  # Argo CD tracks it: not an orphan
    code, out, _ = run(capsys, "app", "orphans", *common, "--ignore", "/ConfigMap/str*", cluster=cluster)
    assert "stray" not in out
    code, out, err = run(capsys, "app", "sync", *common, "--prune", "--adopt-argocd-app", "shop", cluster=cluster)
    assert code == 0, out + err
    assert cluster.get(ResourceKey("", "ConfigMap", "default", "left-by-argo")) is None
    assert cluster.get(ResourceKey("", "ConfigMap", "default", "stray")) is not None
