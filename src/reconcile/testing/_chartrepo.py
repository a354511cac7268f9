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

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from reconcile.renderers import Tool
from reconcile.testing._httpserver import LocalHTTPService, ServiceHandler

__all__ = ["ChartRepositoryServer", "build_chart_repository", "write_chart"]

_CONTENT_TYPES = {".yaml": "application/x-yaml", ".tgz": "application/gzip", ".json": "application/json"}


class _Handler(ServiceHandler):
    """Serves the files below the repository's root, read-only."""

    def do_GET(self) -> None:  # noqa: N802 - http.server names handlers so
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802 - http.server names handlers so
        self._handle()

    def _handle(self) -> None:
        repository: ChartRepositoryServer = self.server.service
        repository._record(self.command, self.path)
        if repository._authenticate(self.headers.get("Authorization")) is None:
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


class ChartRepositoryServer(LocalHTTPService):
    """Serves the folder ``root`` as a Helm chart repository on 127.0.0.1, optionally behind basic auth.

    Any file below ``root`` is served as is (``/index.yaml``, ``/web-1.2.0.tgz``); nothing outside it, and no
    symlink leading out of it. Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Attributes:
        root: The folder served (created when missing).
        requests: ``(method, path and query)`` of every request received, in order, including refused ones.
            Entries are appended under a lock; read or clear it from the test's thread.
    """

    handler_class = _Handler

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        client_certificates: bool = False,
    ) -> None:
        Path(root).mkdir(parents=True, exist_ok=True)
        super().__init__(root, username=username, password=password, tls=tls, client_certificates=client_certificates)

    def _file(self, path: str) -> Path | None:
        """The regular file ``path`` names below the root, or ``None``."""
        parts = [part for part in path.split("/") if part]
        if any(part in (".", "..") for part in parts):
            return None
        file = self.root.joinpath(*parts).resolve()
        return file if file.is_file() and file.is_relative_to(self.root) else None


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
