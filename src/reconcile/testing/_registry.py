"""A real OCI registry on 127.0.0.1 for tests: Debian's ``docker-registry`` (distribution 2.8).

Charts and artifacts are pushed to it with the real tools (``helm push``) and read back over the OCI
distribution API, so the code under test meets a registry's real answers: its digests, its tag lists, its
``WWW-Authenticate`` challenges. Storage is a folder; authentication, when asked for, is an htpasswd file
(bcrypt, the only scheme the registry accepts).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from reconcile.testing._controlplane import ControlPlaneError, find_binary

__all__ = ["OCIRegistry"]

_POLL = 0.05


class OCIRegistry:
    """Debian's ``docker-registry`` serving OCI content on 127.0.0.1 and a free port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        root: A folder for the registry's storage, configuration and log (created when missing).
        username: With ``password``, every request must authenticate (HTTP basic auth, htpasswd).
        password: The password.
        binary: The ``docker-registry`` executable; found like the other test assets (``$KUBEBUILDER_ASSETS``,
            then ``PATH``) when ``None``.
        startup_timeout: Seconds to wait for the registry to answer.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        username: str | None = None,
        password: str | None = None,
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.root = Path(root)
        self.username = username
        self.password = password
        self._binary = Path(binary) if binary is not None else None
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``: how OCI references name the registry (``oci://127.0.0.1:5000/charts``)."""
        if self._process is None:
            raise ControlPlaneError("the registry is not running")
        return f"127.0.0.1:{self._port}"

    def start(self) -> Self:
        """Write the configuration, start the registry and wait until it answers; returns ``self``.

        Raises:
            ControlPlaneError: The binary is missing, or the registry exited or did not answer in time (its log's
                last lines are in the message).
        """
        binary = self._binary or find_binary("docker-registry")
        if not binary.is_file():
            raise ControlPlaneError(f"docker-registry is not at {binary}: run `bash scripts/test-assets.sh`")
        self.root.mkdir(parents=True, exist_ok=True)
        self._port = _free_port()
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self._port}", "secret": secrets.token_hex(16)},
        }
        if self.username is not None and self.password is not None:
            (self.root / "htpasswd").write_text(f"{self.username}:{_bcrypt(self.password)}\n")
            config["auth"] = {"htpasswd": {"realm": "reconcile-tests", "path": str(self.root / "htpasswd")}}
        # JSON is YAML: the registry reads this as its config.yml.
        (self.root / "config.yml").write_text(json.dumps(config))
        log = (self.root / "registry.log").open("wb")
        self._process = subprocess.Popen(
            [str(binary), "serve", str(self.root / "config.yml")], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + self._startup_timeout
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = (self.root / "registry.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise ControlPlaneError(f"docker-registry did not start: {tail.strip() or 'no output'}")
            time.sleep(_POLL)
        return self

    def stop(self) -> None:
        """Stop the registry (its storage stays in ``root``). Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def tags(self, repository: str) -> list[str]:
        """The tags of ``repository`` as the registry lists them (``GET /v2/<repository>/tags/list``)."""
        body = self._get(f"/v2/{repository}/tags/list")
        return list(json.loads(body).get("tags") or [])

    def manifest_digest(self, repository: str, reference: str) -> str:
        """The digest the registry gives the manifest ``repository:reference`` (its ``Docker-Content-Digest``)."""
        accept = "application/vnd.oci.image.manifest.v1+json"
        request = self._request(f"/v2/{repository}/manifests/{reference}", method="HEAD", accept=accept)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own 127.0.0.1 server
            return str(response.headers["Docker-Content-Digest"])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _answers(self) -> bool:
        """Whether ``/v2/`` answers (200, or 401 when authentication is on)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self._port}/v2/", timeout=1):
                return True
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code == 401  # noqa: PLR2004 - up, and asking for credentials
        except OSError:
            return False

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self._request(path), timeout=10) as response:  # noqa: S310
            data: bytes = response.read()
            return data

    def _request(self, path: str, *, method: str = "GET", accept: str | None = None) -> urllib.request.Request:
        request = urllib.request.Request(f"http://{self.host}{path}", method=method)
        if accept is not None:
            request.add_header("Accept", accept)
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        return request


def _free_port() -> int:
    import socket  # noqa: PLC0415 - only here

    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bcrypt(password: str) -> str:
    try:
        import bcrypt  # noqa: PLC0415 - only registries with authentication need it
    except ImportError as exc:
        raise ControlPlaneError("an OCIRegistry with a password needs the bcrypt package: pip install bcrypt") from exc
    hashed: bytes = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4))
    return hashed.decode()
