"""A real, local Kubernetes control plane for tests: etcd, kube-apiserver and kube-controller-manager.

::

    with ControlPlane() as cp:
        cluster = KubernetesCluster.from_kubeconfig(cp.kubeconfig)
        ...

Every process listens on 127.0.0.1 and a free port, keeps its data and log in one temporary folder, and runs in
its own process group, so that :meth:`ControlPlane.stop` (also called on a failed start and at interpreter exit)
leaves nothing behind. Binaries are found as controller-runtime's envtest finds them: the ``assets`` folder,
else the ``KUBEBUILDER_ASSETS`` folder, else ``PATH``. ``scripts/test-assets.sh`` provides them.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

from reconcile.errors import ClusterError, NotFoundError, ReconcileError

ASSETS_ENV = "KUBEBUILDER_ASSETS"
_ASSETS_HINT = (
    "run `bash scripts/test-assets.sh` and set KUBEBUILDER_ASSETS to the folder it prints (or pass assets=...)"
)
_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
# The API server stops listening at once on SIGTERM but then waits up to a minute for open watches; it keeps no
# state of its own (etcd has every write), so it gets less time.
_APISERVER_GRACE = 2.0
_POLL = 0.05  # seconds between readiness probes
_PROBE_TIMEOUT = 5.0
_TAIL_LINES = 30
_ADMIN = "admin"
_CONTEXT = "reconcile-test"


class ControlPlaneError(ReconcileError):
    """The control plane could not start (a missing binary, a process that died, a timeout).

    Attributes:
        process: The process that failed (``etcd``, ``kube-apiserver``...), when one did.
        log_tail: The last lines of that process's log, also part of the message.
    """

    def __init__(self, message: str, *, process: str | None = None, log_tail: str = "") -> None:
        full = f"{message}\n--- last lines of {process}'s log ---\n{log_tail}" if process and log_tail else message
        super().__init__(full)
        self.process = process
        self.log_tail = log_tail


def find_binary(name: str, assets: str | os.PathLike[str] | None = None) -> Path:
    """Locate one control-plane binary: in ``assets``, else in ``$KUBEBUILDER_ASSETS``, else on ``PATH``.

    Args:
        name: The program, e.g. ``kube-apiserver``.
        assets: A folder to look in first, as for :class:`ControlPlane`.

    Raises:
        ControlPlaneError: The program is not where it was looked for.
    """
    folder, origin = (assets, "assets") if assets is not None else (os.environ.get(ASSETS_ENV), ASSETS_ENV)
    if folder:
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ControlPlaneError(f"{name} is not in {folder} (from {origin}): {_ASSETS_HINT}")
    found = shutil.which(name)
    if found is None:
        raise ControlPlaneError(f"{name} is not on PATH and {ASSETS_ENV} is not set: {_ASSETS_HINT}")
    return Path(found)


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) on 127.0.0.1, for tests.

    Authentication is a static admin token in group ``system:masters``; authorization is RBAC, so other
    identities get what RBAC grants them. The API server's serving certificate is self-signed; the kubeconfig
    carries its CA.

    Args:
        assets: The folder holding ``etcd``, ``kube-apiserver`` and ``kube-controller-manager``; default
            ``$KUBEBUILDER_ASSETS``, else ``PATH``.
        controller_manager: Also run the controller manager (Deployments get ReplicaSets, namespaces get
            their ``default`` service account, deleted namespaces go away).
        startup_timeout: Seconds to wait for everything to be ready.
        extra_apiserver_args: More ``--flag=value`` arguments for kube-apiserver.
        logger: A structlog-style logger; default ``structlog.get_logger("reconcile")``.
    """

    def __init__(
        self,
        *,
        assets: str | os.PathLike[str] | None = None,
        controller_manager: bool = True,
        startup_timeout: float = 60.0,
        extra_apiserver_args: Iterable[str] = (),
        logger: Any = None,
    ) -> None:
        self.assets = assets
        self.controller_manager = controller_manager
        self.startup_timeout = startup_timeout
        self.extra_apiserver_args = tuple(extra_apiserver_args)
        self._logger = logger
        self._folder: Path | None = None
        self._processes: dict[str, _Process] = {}
        self._apiserver_args: list[str] = []
        self._port = 0
        self._token = ""

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._folder else "stopped"
        return f"ControlPlane({state})"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def folder(self) -> Path:
        """The temporary folder holding data, certificates, the kubeconfig and one ``<process>.log`` each."""
        return self._check_running()

    @property
    def url(self) -> str:
        """The API server's address, ``https://127.0.0.1:<port>``."""
        self._check_running()
        return f"https://127.0.0.1:{self._port}"

    @property
    def token(self) -> str:
        """The admin bearer token (group ``system:masters``)."""
        self._check_running()
        return self._token

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig file for the admin, with the API server's CA and the context ``reconcile-test``."""
        return self.folder / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        """The PEM bundle that verifies the API server's serving certificate."""
        return self.folder / "certs" / "apiserver.crt"

    @property
    def pids(self) -> dict[str, int]:
        """The process id of each running process, by program name."""
        return {name: proc.pid for name, proc in self._processes.items() if proc.running}

    def start(self) -> None:
        """Start every process and wait until the API server is ready (and the controller manager working).

        Raises:
            ControlPlaneError: A binary is missing, a process exited, or readiness timed out; whatever had
                started is stopped and the folder removed before this is raised.
        """
        if self._folder is not None:
            raise ControlPlaneError("the control plane is already running")
        names = ["etcd", "kube-apiserver"] + (["kube-controller-manager"] if self.controller_manager else [])
        binaries = {name: find_binary(name, self.assets) for name in names}
        began = time.monotonic()
        deadline = began + self.startup_timeout
        self._folder = Path(tempfile.mkdtemp(prefix="reconcile-controlplane-"))
        atexit.register(self.stop)
        try:
            self._start(binaries, deadline)
        except BaseException:
            self.stop()
            raise
        self._log().info("reconcile.testing.control_plane.started", url=self.url, seconds=time.monotonic() - began)

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace period) and remove the folder. Idempotent."""
        for name in reversed(list(self._processes)):
            self._processes.pop(name).stop()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
            self._log().info("reconcile.testing.control_plane.stopped")
        atexit.unregister(self.stop)

    def stop_apiserver(self) -> None:
        """Stop the API server alone (etcd and its data stay), to test how code copes with an outage."""
        proc = self._processes.pop("kube-apiserver", None)
        if proc is not None:
            proc.stop()

    def start_apiserver(self) -> None:
        """Start the API server again on the same port and data, and wait until it is ready.

        Raises:
            ControlPlaneError: It exited or did not become ready within ``startup_timeout``.
        """
        if "kube-apiserver" in self._processes:
            raise ControlPlaneError("kube-apiserver is already running")
        self._processes["kube-apiserver"] = self._spawn_apiserver()
        deadline = time.monotonic() + self.startup_timeout
        self._wait("kube-apiserver /readyz", self._apiserver_ready, deadline, blame="kube-apiserver")

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Call the API server as the admin; meant for test setup (namespaces, RBAC), not for the code under test.

        Args:
            method: ``GET``, ``POST``, ``PUT``, ``PATCH`` (a merge patch) or ``DELETE``.
            path: The API path, e.g. ``/api/v1/namespaces``.
            body: The JSON body, if any.

        Returns:
            The decoded JSON response.

        Raises:
            NotFoundError: The server answered 404.
            ClusterError: The server answered with another error status or could not be reached.
        """
        data = None if body is None else json.dumps(body).encode()
        content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
        request = urllib.request.Request(  # noqa: S310 - the URL is our own https:// address
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self._tls()) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            status = _status(exc)
            message = f"{method} {path}: HTTP {exc.code}: {status.get('message', exc.reason)}"
            if exc.code == HTTPStatus.NOT_FOUND:
                raise NotFoundError(message) from exc
            raise ClusterError(message, status=exc.code, reason=str(status.get("reason", ""))) from exc
        except OSError as exc:
            raise ClusterError(f"{method} {path}: {self.url} unreachable: {exc}") from exc

    def _start(self, binaries: Mapping[str, Path], deadline: float) -> None:
        folder = self.folder
        etcd_port, peer_port, self._port = _free_ports(3)
        self._token = secrets.token_hex(24)
        key = folder / "service-account.key"
        _write_rsa_key(key)
        tokens = folder / "tokens.csv"
        tokens.write_text(f"{self._token},{_ADMIN},{_ADMIN},system:masters\n")
        tokens.chmod(0o600)

        etcd_url, peer_url = f"http://127.0.0.1:{etcd_port}", f"http://127.0.0.1:{peer_port}"
        etcd = [
            str(binaries["etcd"]),
            "--name=reconcile",
            f"--data-dir={folder / 'etcd'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=reconcile={peer_url}",
            # A lone member elects itself after one election timeout: keep it short (the default costs 1s).
            "--heartbeat-interval=10",
            "--election-timeout=50",
            "--logger=zap",
            "--log-outputs=stderr",
        ]
        self._processes["etcd"] = _Process.spawn(etcd, folder / "etcd.log")
        self._wait("etcd /health", lambda: _http_ok(f"{etcd_url}/health"), deadline)

        self._apiserver_args = [
            str(binaries["kube-apiserver"]),
            f"--etcd-servers={etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self._port}",
            f"--cert-dir={folder / 'certs'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={key}",
            f"--service-account-signing-key-file={key}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--allow-privileged=true",
            *self.extra_apiserver_args,
        ]
        self._processes["kube-apiserver"] = self._spawn_apiserver()
        self._wait("kube-apiserver /readyz", self._apiserver_ready, deadline, blame="kube-apiserver")
        # Ready does not mean bootstrapped: the API server creates the default namespace a moment later.
        self._wait("the default namespace", lambda: self._get_ok("/api/v1/namespaces/default"), deadline)
        self._write_kubeconfig()
        if "kube-controller-manager" in binaries:
            manager = [
                str(binaries["kube-controller-manager"]),
                f"--kubeconfig={self.kubeconfig}",
                f"--service-account-private-key-file={key}",
                f"--root-ca-file={self.ca_file}",
                "--leader-elect=false",
                "--controllers=*,-nodeipam,-nodelifecycle,-csrsigning",
                "--secure-port=0",
            ]
            log = folder / "kube-controller-manager.log"
            self._processes["kube-controller-manager"] = _Process.spawn(manager, log)
            # The service account controller creating this is the first sign that the controllers run.
            path = "/api/v1/namespaces/default/serviceaccounts/default"
            self._wait("the default service account", lambda: self._get_ok(path), deadline)

    def _check_running(self) -> Path:
        if self._folder is None:
            raise ControlPlaneError("the control plane is not running: call start() first")
        return self._folder

    def _spawn_apiserver(self) -> _Process:
        return _Process.spawn(self._apiserver_args, self.folder / "kube-apiserver.log", grace=_APISERVER_GRACE)

    def _write_kubeconfig(self) -> None:
        ca = base64.b64encode(self.ca_file.read_bytes()).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": _CONTEXT, "cluster": {"server": self.url, "certificate-authority-data": ca}}],
            "users": [{"name": _ADMIN, "user": {"token": self._token}}],
            "contexts": [{"name": _CONTEXT, "context": {"cluster": _CONTEXT, "user": _ADMIN, "namespace": "default"}}],
            "current-context": _CONTEXT,
            "preferences": {},
        }
        # JSON is YAML: every kubeconfig reader accepts it.
        self.kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
        self.kubeconfig.chmod(0o600)

    def _wait(self, what: str, ready: Callable[[], bool], deadline: float, *, blame: str | None = None) -> None:
        """Poll ``ready`` until it holds; fail early, with its log, if any process exits meanwhile.

        On a timeout the error carries the log of ``blame`` (default: the process started last).
        """
        last = blame or list(self._processes)[-1]
        while True:
            for name, proc in self._processes.items():
                if not proc.running:
                    raise ControlPlaneError(
                        f"{name} exited with status {proc.returncode} while waiting for {what} (log: {proc.log})",
                        process=name,
                        log_tail=proc.tail(),
                    )
            if ready():
                return
            if time.monotonic() > deadline:
                proc = self._processes[last]
                raise ControlPlaneError(
                    f"timed out after {self.startup_timeout:g}s waiting for {what} (log: {proc.log})",
                    process=last,
                    log_tail=proc.tail(),
                )
            time.sleep(_POLL)

    def _apiserver_ready(self) -> bool:
        # The API server writes its self-signed certificate (then its key) before it serves.
        return (self.folder / "certs" / "apiserver.key").is_file() and self._get_ok("/readyz")

    def _get_ok(self, path: str) -> bool:
        return _http_ok(self.url + path, token=self._token, context=self._tls())

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _log(self) -> Any:
        return self._logger or structlog.get_logger("reconcile")


class _Process:
    """One child process in its own process group, its output going to a log file."""

    def __init__(self, popen: subprocess.Popen[bytes], log: Path, grace: float) -> None:
        self.popen = popen
        self.log = log
        self.grace = grace
        self.pid = popen.pid

    @classmethod
    def spawn(cls, args: list[str], log: Path, *, grace: float | None = None) -> _Process:
        with log.open("ab") as out:
            # A new session makes the child a group leader: stopping signals the whole group, grandchildren too.
            popen = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(popen, log, _GRACE if grace is None else grace)

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def tail(self, lines: int = _TAIL_LINES) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        _signal_group(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(self.grace)
        except subprocess.TimeoutExpired:
            _signal_group(self.pid, signal.SIGKILL)
            self.popen.wait()
        # Anything the leader left behind in its group goes too.
        _signal_group(self.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is already empty
        os.killpg(pgid, sig)


def _free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now; all are held open together so that they differ."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def _http_ok(url: str, *, token: str = "", context: ssl.SSLContext | None = None) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=_PROBE_TIMEOUT, context=context) as response:  # noqa: S310
            return int(response.status) == HTTPStatus.OK
    except urllib.error.HTTPError as exc:  # not ready yet
        exc.close()
        return False
    except (OSError, ValueError):  # not listening yet
        return False


def _status(exc: urllib.error.HTTPError) -> dict[str, Any]:
    """The API's Status object from an error response, or an empty dict."""
    try:
        status = json.loads(exc.read())
    except (OSError, ValueError):
        return {}
    finally:
        exc.close()
    return status if isinstance(status, dict) else {}


def _write_rsa_key(path: Path) -> None:
    """Write a new RSA private key (PEM) for signing service account tokens."""
    try:
        # Optional: faster when installed, but not a dependency of reconcile.
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    except ImportError:
        _openssl_rsa_key(path)
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    path.chmod(0o600)


def _openssl_rsa_key(path: Path) -> None:
    """Write a new RSA private key (PEM) with the ``openssl`` command line tool."""
    try:
        subprocess.run(["openssl", "genrsa", "-out", str(path), "2048"], capture_output=True, check=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ControlPlaneError(
            "ControlPlane needs the openssl command line tool (or the cryptography package) to make a "
            "service account signing key"
        ) from exc
    path.chmod(0o600)
