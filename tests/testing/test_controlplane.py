"""The local control plane and its pytest plugin, run with the real binaries from ``scripts/test-assets.sh``."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from reconcile.errors import ClusterError, NotFoundError
from reconcile.model import ResourceKey
from reconcile.testing import _controlplane as controlplane
from reconcile.testing._controlplane import ControlPlane, ControlPlaneError, find_binary
from reconcile.testing.pytest_plugin import namespace_name
from support import eventually

# --- helpers -------------------------------------------------------------------------------------------------


def _live_processes() -> Iterator[tuple[int, int, str]]:
    """(pid, process group, command line) of every process that is not a zombie."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # exited while we looked
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if state != "Z":
            yield int(entry.name), int(pgrp), cmdline


def _in_groups(pgids: set[int]) -> list[int]:
    return [pid for pid, pgrp, _ in _live_processes() if pgrp in pgids or pid in pgids]


def _mentioning(text: str) -> list[str]:
    return [cmd for pid, _, cmd in _live_processes() if text in cmd and pid != os.getpid()]


def _status_of(url: str, ca_file: Path, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - the control plane's https URL
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with urllib.request.urlopen(request, timeout=10, context=context):  # noqa: S310
            return 200
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def _fake_assets(folder: Path, etcd_script: str) -> Path:
    """A folder of stand-in binaries: ``etcd`` runs ``etcd_script``; the others must never run."""
    folder.mkdir()
    for name, body in (("etcd", etcd_script), ("kube-apiserver", "exit 99"), ("kube-controller-manager", "exit 99")):
        path = folder / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return folder


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Control planes started in the test keep their folders here, where the test can see what is left."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture
def api_client(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    yield api
    api.close()


# --- starting and stopping -----------------------------------------------------------------------------------


@pytest.mark.integration
def test_stop_leaves_no_process_and_no_folder(private_tmp: Path) -> None:
    plane = ControlPlane()
    plane.start()
    try:
        pids = plane.pids
        folder = plane.folder
        assert set(pids) == {"etcd", "kube-apiserver", "kube-controller-manager"}
        assert sorted(_in_groups(set(pids.values()))) == sorted(pids.values())  # each leads its own group
        assert folder.parent == private_tmp
        assert "Serving securely" in (folder / "kube-apiserver.log").read_text()
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", plane.url)
    finally:
        plane.stop()
    assert _in_groups(set(pids.values())) == []
    assert list(private_tmp.iterdir()) == []
    assert plane.pids == {}
    with pytest.raises(ControlPlaneError, match="not running"):
        _ = plane.url
    plane.stop()  # a second stop is harmless


class _Recorder:
    """A structlog-style logger that keeps what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


@pytest.mark.integration
def test_api_server_restart_keeps_the_data(private_tmp: Path) -> None:
    logger = _Recorder()
    with ControlPlane(controller_manager=False, logger=logger) as plane:
        [(started, fields)] = logger.events
        assert started == "reconcile.testing.control_plane.started"
        assert fields["url"] == plane.url
        assert 0 < fields["seconds"] < 60
        url = plane.url
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}, "data": {"k": "v"}}
        plane.request("POST", "/api/v1/namespaces/default/configmaps", configmap)
        old_pid = plane.pids["kube-apiserver"]

        plane.stop_apiserver()
        assert set(plane.pids) == {"etcd"}
        assert _in_groups({old_pid}) == []
        with pytest.raises(ClusterError) as outage:
            plane.request("GET", "/api/v1/namespaces/default/configmaps/kept")
        assert outage.value.status == 0
        assert outage.value.retryable

        plane.start_apiserver()
        assert plane.url == url
        assert plane.pids["kube-apiserver"] != old_pid
        assert plane.request("GET", "/api/v1/namespaces/default/configmaps/kept")["data"] == {"k": "v"}
        with pytest.raises(ControlPlaneError, match="already running"):
            plane.start_apiserver()
        pids = set(plane.pids.values())
    assert _in_groups(pids) == []
    assert list(private_tmp.iterdir()) == []
    assert logger.events[-1] == ("reconcile.testing.control_plane.stopped", {})


@pytest.mark.integration
def test_interpreter_exit_stops_a_forgotten_control_plane(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from reconcile.testing._controlplane import ControlPlane\n"
        "plane = ControlPlane(controller_manager=False)\n"
        "plane.start()\n"
        "print(json.dumps({'pids': list(plane.pids.values()), 'folder': str(plane.folder)}), file=sys.stderr)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    left = json.loads(done.stderr.strip().splitlines()[-1])
    assert len(left["pids"]) == 2
    assert Path(left["folder"]).parent == tmp_path
    assert _in_groups(set(left["pids"])) == []
    assert list(tmp_path.iterdir()) == []


def test_missing_binary_in_assets_is_named(private_tmp: Path) -> None:
    assets = private_tmp / "assets"
    assets.mkdir()
    with pytest.raises(ControlPlaneError, match=r"^etcd is not in .*/assets \(from assets\)") as error:
        ControlPlane(assets=assets).start()
    assert "scripts/test-assets.sh" in str(error.value)
    assert list(private_tmp.iterdir()) == [assets]  # nothing was started, no folder made


def test_missing_binary_in_kubebuilder_assets_is_named(private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets = _fake_assets(private_tmp / "assets", "exit 1")
    (assets / "kube-controller-manager").unlink()
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    with pytest.raises(ControlPlaneError, match=r"^kube-controller-manager is not in .* \(from KUBEBUILDER_ASSETS\)"):
        ControlPlane().start()
    assert list(private_tmp.iterdir()) == [assets]


def test_missing_binary_on_path_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ControlPlaneError, match=r"^etcd is not on PATH and KUBEBUILDER_ASSETS is not set") as error:
        find_binary("etcd")
    assert "scripts/test-assets.sh" in str(error.value)


def test_binaries_are_found_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assets = _fake_assets(tmp_path / "bin", "exit 1")
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("PATH", str(assets))
    assert find_binary("kube-apiserver") == assets / "kube-apiserver"


@pytest.mark.integration
def test_a_bad_flag_fails_with_the_log_and_cleans_up(private_tmp: Path) -> None:
    plane = ControlPlane(controller_manager=False, extra_apiserver_args=["--no-such-flag"])
    with pytest.raises(ControlPlaneError, match="kube-apiserver exited with status 1") as error:
        plane.start()
    assert error.value.process == "kube-apiserver"
    assert "unknown flag: --no-such-flag" in error.value.log_tail
    assert "unknown flag: --no-such-flag" in str(error.value)
    assert list(private_tmp.iterdir()) == []
    assert _mentioning(str(private_tmp)) == []  # etcd, started first, is gone too


@pytest.mark.integration
def test_a_failing_etcd_is_reported_with_its_log(private_tmp: Path) -> None:
    assets = _fake_assets(
        private_tmp / "assets", 'echo "listen tcp 127.0.0.1:2379: bind: address already in use"\nexit 1'
    )
    with pytest.raises(ControlPlaneError, match="etcd exited with status 1 while waiting for etcd /health") as error:
        ControlPlane(assets=assets).start()
    assert error.value.process == "etcd"
    assert error.value.log_tail == "listen tcp 127.0.0.1:2379: bind: address already in use"
    assert list(private_tmp.iterdir()) == [assets]


@pytest.mark.integration
def test_a_hung_start_times_out_and_kills_the_whole_group(private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controlplane, "_GRACE", 0.5)
    # Ignores SIGTERM (so only SIGKILL ends it) and leaves a grandchild that carries the data folder in its argv.
    hung = f"trap '' TERM\necho waiting\n'{sys.executable}' -c 'import time; time.sleep(600)' \"$@\" &\nwait"
    assets = _fake_assets(private_tmp / "assets", hung)
    began = time.monotonic()
    with pytest.raises(ControlPlaneError, match=r"timed out after 1s waiting for etcd /health") as error:
        ControlPlane(assets=assets, startup_timeout=1).start()
    assert time.monotonic() - began < 10
    assert error.value.process == "etcd"
    assert error.value.log_tail == "waiting"
    assert list(private_tmp.iterdir()) == [assets]
    assert _mentioning(str(private_tmp / "reconcile-controlplane-")) == []  # the grandchild is gone too


@pytest.mark.parametrize("write", [controlplane._write_rsa_key, controlplane._openssl_rsa_key])
def test_service_account_key_is_a_private_rsa_key(tmp_path: Path, write: Callable[[Path], None]) -> None:
    key = tmp_path / "sa.key"
    write(key)
    check = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-check", "-noout"], capture_output=True, text=True, check=True
    )
    assert check.stdout.strip() == "RSA key ok"
    assert key.stat().st_mode & 0o777 == 0o600


# --- what the running control plane offers -------------------------------------------------------------------


@pytest.mark.integration
def test_kubeconfig_works_with_the_kubernetes_client(api_client: client.ApiClient, kube_namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    body = {"metadata": {"name": "settings"}, "data": {"color": "blue"}}
    core.create_namespaced_config_map(kube_namespace, body)
    assert core.read_namespaced_config_map("settings", kube_namespace).data == {"color": "blue"}


@pytest.mark.integration
def test_kubeconfig_works_with_kubectl(control_plane: ControlPlane, kube_namespace: str, kubectl_binary: str) -> None:
    kubectl = [kubectl_binary, f"--kubeconfig={control_plane.kubeconfig}", "-n", kube_namespace]
    subprocess.run([*kubectl, "create", "configmap", "made-by-kubectl", "--from-literal=a=1"], check=True, timeout=60)
    made = subprocess.run(
        [*kubectl, "get", "configmap", "made-by-kubectl", "-o", "json"], capture_output=True, check=True, timeout=60
    )
    assert json.loads(made.stdout)["data"] == {"a": "1"}
    config_file = json.loads(control_plane.kubeconfig.read_text())
    assert config_file["clusters"][0]["cluster"]["server"] == control_plane.url
    assert "insecure-skip-tls-verify" not in config_file["clusters"][0]["cluster"]


@pytest.mark.integration
def test_controller_manager_makes_replicasets(api_client: client.ApiClient, kube_namespace: str) -> None:
    labels = {"app": "web"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}},
        },
    }
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(kube_namespace, deployment)
    replicasets = eventually(lambda: apps.list_namespaced_replica_set(kube_namespace).items)
    assert len(replicasets) == 1
    assert replicasets[0].spec.replicas == 2
    assert [(ref.kind, ref.name) for ref in replicasets[0].metadata.owner_references] == [("Deployment", "web")]


@pytest.mark.integration
def test_rbac_refuses_unknown_tokens_and_anonymous_users(control_plane: ControlPlane) -> None:
    url = control_plane.url + "/api/v1/namespaces"
    assert _status_of(url, control_plane.ca_file, control_plane.token) == 200
    assert _status_of(url, control_plane.ca_file, "not-a-known-token") == 401
    assert _status_of(url, control_plane.ca_file, None) == 403  # authenticated as system:anonymous, denied by RBAC


@pytest.mark.integration
def test_request_raises_typed_errors(control_plane: ControlPlane) -> None:
    with pytest.raises(NotFoundError, match=r"GET /api/v1/namespaces/absent: HTTP 404: .*not found"):
        control_plane.request("GET", "/api/v1/namespaces/absent")
    namespace = {"metadata": {"name": "default"}}
    with pytest.raises(ClusterError, match="already exists") as error:
        control_plane.request("POST", "/api/v1/namespaces", namespace)
    assert (error.value.status, error.value.reason) == (409, "AlreadyExists")


# --- the pytest plugin ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_kube_namespace_is_fresh_and_marks_the_test(
    control_plane: ControlPlane, kube_namespace: str, request: pytest.FixtureRequest
) -> None:
    assert kube_namespace.startswith("test-kube-namespace-is-fresh-and-marks-the-test-")
    assert control_plane.request("GET", f"/api/v1/namespaces/{kube_namespace}")["status"]["phase"] == "Active"
    assert request.node.get_closest_marker("integration") is not None


@pytest.mark.integration
def test_kube_cluster_talks_to_the_control_plane(
    control_plane: ControlPlane, kube_cluster: Any, kube_namespace: str
) -> None:
    assert kube_cluster.host == control_plane.url
    namespace = kube_cluster.get(ResourceKey(group="", kind="Namespace", namespace="", name=kube_namespace))
    assert namespace["metadata"]["name"] == kube_namespace


@pytest.mark.parametrize(
    "test_name",
    ["test_apply", "test_diff[Deployment-apps/v1]", "TEST_UPPER", "___", "x" * 200, "test_" + "a-" * 40],
)
def test_namespace_names_are_unique_valid_labels(test_name: str) -> None:
    first, second = namespace_name(test_name), namespace_name(test_name)
    assert first != second
    for name in (first, second):
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)
        assert len(name) <= 63


_PROJECT_TESTS = """
    import pytest

    made = []


    def test_uses_a_namespace(control_plane, kube_namespace, request):
        assert request.node.get_closest_marker("integration") is not None
        made.append(kube_namespace)


    def test_the_namespace_is_deleted_after_its_test(control_plane):
        from reconcile.errors import NotFoundError

        try:
            namespace = control_plane.request("GET", f"/api/v1/namespaces/{made[0]}")
        except NotFoundError:
            return
        assert namespace["metadata"]["deletionTimestamp"]


    def test_plain(request):
        assert request.node.get_closest_marker("integration") is None
"""


def _run_project(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=project,
        check=False,  # the callers look at the outcome
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project that relies on the installed plugin alone (no conftest)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    (tmp_path / "test_app.py").write_text(textwrap.dedent(_PROJECT_TESTS))
    return tmp_path


@pytest.mark.integration
def test_plugin_serves_a_users_project(project: Path) -> None:
    done = _run_project(project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_plugin_marks_cluster_tests_integration(project: Path) -> None:
    done = _run_project(project, "-m", "not integration")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 deselected" in done.stdout


def test_plugin_fails_loudly_without_binaries(project: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    done = _run_project(project, "-rA", env={"KUBEBUILDER_ASSETS": str(empty)})
    assert done.returncode == 1
    assert "1 passed, 2 errors" in done.stdout
    assert "etcd is not in" in done.stdout
    assert "scripts/test-assets.sh" in done.stdout
    assert "skipped" not in done.stdout


@pytest.mark.integration
def test_a_current_release_serves_openapi_v3_and_priority_and_fairness(control_plane: ControlPlane) -> None:
    version = control_plane.request("GET", "/version")
    assert int(version["major"]) == 1
    assert int(version["minor"].rstrip("+")) >= 34  # the tier builds a current release
    assert version["gitVersion"].startswith(f"v1.{version['minor'].rstrip('+')}.")
    paths = control_plane.request("GET", "/openapi/v3")["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/autoscaling/v2"} <= set(paths)
    # API priority and fairness is on: the server made its mandatory flow schemas.
    schemas = control_plane.request("GET", "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas")["items"]
    assert {"exempt", "catch-all"} <= {s["metadata"]["name"] for s in schemas}
