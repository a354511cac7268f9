"""A real OCI registry on 127.0.0.1 for tests: Debian's ``docker-registry`` (distribution 2.8).

Charts and artifacts are pushed to it with the real tools (``helm push``) and read back over the OCI
distribution API, so the code under test meets a registry's real answers: its digests, its tag lists, its
``WWW-Authenticate`` challenges. Storage is a folder; authentication, when asked for, is an htpasswd file
(bcrypt, the only scheme the registry accepts). With ``tls=True`` it serves HTTPS with a certificate from a test
CA made for it (and, with ``client_certificates=True``, accepts only clients with a certificate from that CA).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from reconcile.testing._controlplane import ControlPlaneError, find_binary
from reconcile.testing._tls import write_test_certificates

__all__ = ["OCIRegistry"]

_POLL = 0.05
_ACCESS = re.compile(r'"(?P<method>GET|HEAD|POST|PUT|PATCH|DELETE) (?P<path>/\S*) HTTP/[0-9.]+"')


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
        tls: Serve HTTPS with a certificate for ``127.0.0.1`` signed by a test CA (``ca_file``).
        client_certificates: With ``tls``, refuse clients without a certificate from the test CA
            (``client_cert_file``, ``client_key_file``).
        access_log: Log every request the registry serves, for :meth:`served` (what a cache hit saved).

    Attributes:
        ca_file: With ``tls``: the test CA's certificate (PEM), to trust.
        client_cert_file: With ``tls``: a client certificate the registry accepts (PEM).
        client_key_file: Its private key (PEM).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        username: str | None = None,
        password: str | None = None,
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        tls: bool = False,
        client_certificates: bool = False,
        access_log: bool = False,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self.access_log = access_log
        if client_certificates and not tls:
            raise ValueError("client certificates need tls=True")
        self.tls = tls
        self.client_certificates = client_certificates
        self.ca_file = Path(root) / "tls" / "ca.crt"
        self.client_cert_file = Path(root) / "tls" / "client.crt"
        self.client_key_file = Path(root) / "tls" / "client.key"
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
            "log": {"level": "warn", "accesslog": {"disabled": not self.access_log}},
            "storage": {"filesystem": {"rootdirectory": str(self.root / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self._port}", "secret": secrets.token_hex(16)},
        }
        if self.tls:
            write_test_certificates(self.root / "tls")
            folder = self.root / "tls"
            tls: dict[str, Any] = {"certificate": str(folder / "server.crt"), "key": str(folder / "server.key")}
            if self.client_certificates:
                tls["clientcas"] = [str(self.ca_file)]
            config["http"]["tls"] = tls
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

    def served(self) -> list[str]:
        """``METHOD path`` of every request served so far, from the registry's access log (``access_log=True``)."""
        if not self.access_log:
            raise ControlPlaneError("start the registry with access_log=True to count its requests")
        text = (self.root / "registry.log").read_text(errors="replace")
        return [f"{m['method']} {m['path']}" for m in _ACCESS.finditer(text)]

    def push_artifact(
        self,
        repository: str,
        tag: str,
        layer: bytes,
        *,
        layer_type: str = "application/vnd.oci.image.layer.v1.tar+gzip",
        config_type: str = "application/vnd.oci.empty.v1+json",
    ) -> str:
        """Push an artifact of one layer as any OCI client does (monolithic blob uploads, then the manifest).

        Returns:
            The manifest's digest, as the registry reports it.
        """
        config = b"{}"
        for blob in (config, layer):
            start = self._request(f"/v2/{repository}/blobs/uploads/", method="POST")
            with urllib.request.urlopen(start, timeout=10, context=self._context()) as response:  # noqa: S310
                location = str(response.headers["Location"])
            if not location.startswith("http"):
                location = f"{self.scheme}://{self.host}{location}"
            separator = "&" if "?" in location else "?"
            self._send(f"{location}{separator}digest={_digest(blob)}", blob, "application/octet-stream")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": config_type, "digest": _digest(config), "size": len(config)},
            "layers": [{"mediaType": layer_type, "digest": _digest(layer), "size": len(layer)}],
        }
        url = f"{self.scheme}://{self.host}/v2/{repository}/manifests/{tag}"
        self._send(url, json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        return self.manifest_digest(repository, tag)

    def _send(self, url: str, body: bytes, content_type: str) -> None:
        request = urllib.request.Request(url, data=body, method="PUT")  # noqa: S310 - our own registry
        request.add_header("Content-Type", content_type)
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        urllib.request.urlopen(request, timeout=10, context=self._context()).close()  # noqa: S310

    def manifest_digest(self, repository: str, reference: str) -> str:
        """The digest the registry gives the manifest ``repository:reference`` (its ``Docker-Content-Digest``)."""
        accept = "application/vnd.oci.image.manifest.v1+json"
        request = self._request(f"/v2/{repository}/manifests/{reference}", method="HEAD", accept=accept)
        with urllib.request.urlopen(request, timeout=10, context=self._context()) as response:  # noqa: S310
            return str(response.headers["Docker-Content-Digest"])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def scheme(self) -> str:
        """``https`` with ``tls``, else ``http``."""
        return "https" if self.tls else "http"

    def _context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.load_cert_chain(str(self.client_cert_file), str(self.client_key_file))
        return context

    def _answers(self) -> bool:
        """Whether ``/v2/`` answers (200, or 401 when authentication is on)."""
        url = f"{self.scheme}://127.0.0.1:{self._port}/v2/"
        try:
            with urllib.request.urlopen(url, timeout=1, context=self._context()):  # noqa: S310 - our own server
                return True
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code == 401  # noqa: PLR2004 - up, and asking for credentials
        except OSError:
            return False

    def _get(self, path: str) -> bytes:
        with urllib.request.urlopen(self._request(path), timeout=10, context=self._context()) as response:  # noqa: S310
            data: bytes = response.read()
            return data

    def _request(self, path: str, *, method: str = "GET", accept: str | None = None) -> urllib.request.Request:
        request = urllib.request.Request(f"{self.scheme}://{self.host}{path}", method=method)  # noqa: S310 - ours
        if accept is not None:
            request.add_header("Accept", accept)
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        return request


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


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
