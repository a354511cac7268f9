"""A smart-HTTP Git server for tests: the real ``git http-backend`` behind :mod:`http.server`.

::

    with GitHTTPServer(tmp_path, username="alice", password="s3cret") as server:
        source = GitSource(server.url_for("app.git"), username="alice", password="s3cret")
        source.fetch()
        assert ("POST", "/app.git/git-upload-pack") in server.requests

Every repository below ``root`` is served (``GIT_HTTP_EXPORT_ALL``), read-only, on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import zlib
from pathlib import Path
from urllib.parse import urlsplit

from reconcile.errors import ConfigurationError
from reconcile.testing._httpserver import LocalHTTPService, ServiceHandler

_BACKEND_TIMEOUT = 60.0
# Headers the handler computes itself; the CGI's own values are dropped.
_HOP_HEADERS = frozenset({"status", "content-length", "transfer-encoding", "connection"})


def _find_backend() -> Path:
    """The ``git-http-backend`` program in git's exec path."""
    try:
        done = subprocess.run(
            ["git", "--exec-path"], capture_output=True, text=True, check=True, timeout=_BACKEND_TIMEOUT
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigurationError("GitHTTPServer needs the git command line tool on PATH") from exc
    backend = Path(done.stdout.strip()) / "git-http-backend"
    if not backend.is_file():
        raise ConfigurationError(f"GitHTTPServer needs {backend}, which is not installed")
    return backend


class _Handler(ServiceHandler):
    """Runs ``git http-backend`` as a CGI for every request."""

    def do_GET(self) -> None:  # noqa: N802 - http.server names handlers so
        self._handle()

    def do_POST(self) -> None:  # noqa: N802 - http.server names handlers so
        self._handle()

    def _handle(self) -> None:
        git: GitHTTPServer = self.server.service
        git._record(self.command, self.path)
        body = self._read_body()
        user = git._authenticate(self.headers.get("Authorization"))
        if user is None:
            self._send(401, "Unauthorized", [("WWW-Authenticate", 'Basic realm="reconcile"')], b"unauthorized\n")
            return
        parts = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "GIT_PROJECT_ROOT": str(git.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            # A hermetic backend: the tester's own git configuration must not change what is served.
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(git.port),
            "REMOTE_ADDR": self.client_address[0],
            "REQUEST_METHOD": self.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
        }
        if user:
            env["REMOTE_USER"] = user
        if protocol := self.headers.get("Git-Protocol"):
            env["HTTP_GIT_PROTOCOL"] = protocol
        try:
            done = subprocess.run(
                [str(git._backend)],
                check=False,
                input=body,
                env=env,
                capture_output=True,
                timeout=_BACKEND_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            self._send(504, "Gateway Timeout", [], b"git http-backend timed out\n")
            return
        status, reason, headers, payload = _parse_cgi(done.stdout)
        if done.returncode != 0 and not done.stdout:
            status, reason, payload = 500, "Internal Server Error", done.stderr
        self._send(status, reason, headers, payload)

    def _read_body(self) -> bytes:
        """The request body, de-chunked and decompressed (git http-backend wants plain bytes)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding in ("gzip", "x-gzip"):
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline(1024)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Skip trailers up to the blank line that ends the body.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _send(self, status: int, reason: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status, reason)
        for name, value in headers:
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)


def _parse_cgi(output: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """Split a CGI response into status, reason, headers and body (RFC 3875 section 6)."""
    crlf, lf = output.find(b"\r\n\r\n"), output.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf < lf):
        head, payload = output[:crlf], output[crlf + 4 :]
    elif lf != -1:
        head, payload = output[:lf], output[lf + 2 :]
    else:
        return 502, "Bad Gateway", [], b"git http-backend sent no headers\n"
    status, reason = 200, "OK"
    headers: list[tuple[str, str]] = []
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() == "status":
            code, _, text = value.partition(" ")
            status, reason = int(code), text or reason
        elif name:
            headers.append((name, value))
    return status, reason, headers, payload


class GitHTTPServer(LocalHTTPService):
    """Serves the Git repositories below ``root`` over smart HTTP on 127.0.0.1, optionally behind basic auth.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Attributes:
        root: The folder whose repositories are served (``root/app.git`` is ``url_for("app.git")``).
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
    ) -> None:
        super().__init__(root, username=username, password=password, tls=tls)
        self._backend = _find_backend()

    def url_for(self, name: str) -> str:
        """The URL of the repository at ``root/name`` (``name`` like ``"app.git"``)."""
        return f"{self.url}/{name.lstrip('/')}"
