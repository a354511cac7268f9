"""A Helm chart repository for tests: a folder served over HTTP on 127.0.0.1, and charts packaged by real helm.

::

    with ChartRepositoryServer(tmp_path / "repo", username="alice", password="s3cret") as server:
        chart = write_chart(tmp_path / "src", "web", "1.2.0", {"templates/cm.yaml": CONFIG_MAP})
        build_chart_repository([chart], server.root, url=server.url)
        source = HelmRepositorySource(server.url, "web", "^1.2", username="alice", password="s3cret")
        source.fetch()
        assert ("GET", "/index.yaml") in server.requests
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import socket
import sys
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from reconcile.errors import ConfigurationError
from reconcile.renderers._tools import Tool

__all__ = ["ChartRepositoryServer", "build_chart_repository", "write_chart"]

_IDLE_TIMEOUT = 30.0
_CONTENT_TYPES = {".yaml": "application/x-yaml", ".tgz": "application/gzip", ".json": "application/json"}


class _Server(ThreadingHTTPServer):
    """Keeps track of open connections so that stopping can close them and join their threads."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, repository: ChartRepositoryServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repository = repository
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients drop connections at will (a size limit stops reading): not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake every handler thread waiting on an idle keep-alive connection."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Serves the files below the repository's root, read-only."""

    protocol_version = "HTTP/1.1"
    timeout = _IDLE_TIMEOUT
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read :attr:`ChartRepositoryServer.requests` instead of stderr."""

    def _handle(self) -> None:
        repository = self.server.repository
        repository._record(self.command, self.path)
        if not repository._authenticate(self.headers.get("Authorization")):
            self._send(401, [("WWW-Authenticate", 'Basic realm="charts"')], b"unauthorized\n")
            return
        file = repository._file(unquote(urlsplit(self.path).path))
        if file is None:
            self._send(404, [], b"not found\n")
            return
        content_type = _CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        self._send(200, [("Content-Type", content_type)], file.read_bytes())

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


class ChartRepositoryServer:
    """Serves the folder ``root`` as a Helm chart repository on 127.0.0.1, optionally behind basic auth.

    Any file below ``root`` is served as is (``/index.yaml``, ``/web-1.2.0.tgz``); nothing outside it, and no
    symlink leading out of it. Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Attributes:
        root: The folder served (created when missing).
        requests: ``(method, path and query)`` of every request received, in order, including refused ones.
            Entries are appended under a lock; read or clear it from the test's thread.
    """

    def __init__(
        self, root: str | os.PathLike[str], *, username: str | None = None, password: str | None = None
    ) -> None:
        if (username is None) != (password is None):
            raise ConfigurationError("ChartRepositoryServer needs both username and password, or neither")
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root = self.root.resolve()
        self.requests: list[tuple[str, str]] = []
        self._username = username
        self._password = password
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server else "stopped"
        auth = ", basic auth" if self._username is not None else ""
        return f"ChartRepositoryServer(root={str(self.root)!r}, {where}{auth})"

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise ConfigurationError("ChartRepositoryServer is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The repository's URL, ``http://127.0.0.1:<port>`` (``index.yaml`` is right below it)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ChartRepositoryServer:
        """Start listening and serving in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ChartRepositoryServer",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and join every server thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()  # joins the handler threads (block_on_close)
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> ChartRepositoryServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def _file(self, path: str) -> Path | None:
        """The regular file ``path`` names below the root, or ``None``."""
        parts = [part for part in path.split("/") if part]
        if any(part in (".", "..") for part in parts):
            return None
        file = self.root.joinpath(*parts).resolve()
        return file if file.is_file() and file.is_relative_to(self.root) else None

    def _authenticate(self, header: str | None) -> bool:
        if self._username is None or self._password is None:
            return True
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            return False
        return hmac.compare_digest(given, f"{self._username}:{self._password}".encode())


def write_chart(
    parent: str | os.PathLike[str],
    name: str,
    version: str,
    files: Mapping[str, str] | None = None,
    *,
    app_version: str | None = None,
    description: str = "A chart written by a test",
) -> Path:
    """Write a minimal chart folder ``parent/name`` (``Chart.yaml`` with ``apiVersion: v2``) and return it.

    Args:
        parent: The folder to write the chart's folder in.
        name: The chart's name (also its folder's).
        version: Its version.
        files: More files, ``relative path -> content`` (``{"templates/cm.yaml": "..."}``).
        app_version: The ``appVersion`` field, when wanted.
        description: The ``description`` field.
    """
    folder = Path(parent) / name
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["apiVersion: v2", f"name: {name}", f"version: {version!r}", f"description: {description!r}"]
    if app_version is not None:
        lines.append(f"appVersion: {app_version!r}")
    (folder / "Chart.yaml").write_text("\n".join(lines) + "\n")
    for relative, content in (files or {}).items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return folder


def build_chart_repository(
    charts: Iterable[str | os.PathLike[str]],
    dest: str | os.PathLike[str],
    *,
    url: str | None = None,
    helm: str | os.PathLike[str] | None = None,
) -> Path:
    """Package chart folders with the real helm into ``dest`` and (re)write its ``index.yaml``.

    Runs ``helm package <chart> --destination <dest>`` for each chart, then ``helm repo index <dest>
    [--url <url>]``. Without ``url`` the index's chart URLs are relative (``web-1.2.0.tgz``).

    Args:
        charts: Chart folders.
        dest: The repository folder (created when missing); archives already there stay in the index.
        url: The repository's URL, written before each archive's name in the index.
        helm: The helm executable; found on ``PATH`` when ``None``.

    Returns:
        ``dest``'s path.

    Raises:
        ToolNotFoundError: helm is not installed.
        ToolError: helm failed (its message included).
    """
    tool = Tool("helm", None if helm is None else os.fspath(helm))
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    for chart in charts:
        tool.run(["package", os.fspath(Path(chart).resolve()), "--destination", str(folder.resolve())])
    tool.run(["repo", "index", str(folder.resolve()), *(["--url", url] if url else [])])
    return folder
