"""What the test servers share: HTTP on 127.0.0.1 in a background thread, basic auth and a log of requests."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from reconcile.errors import ConfigurationError


class ServiceHandler(BaseHTTPRequestHandler):
    """The handlers' common ground: HTTP/1.1 keep-alive with an idle limit, and no logging to stderr.

    Tests read the service's ``requests`` instead of a log; ``self.server.service`` is the service.
    """

    protocol_version = "HTTP/1.1"
    timeout = 30.0  # seconds an idle keep-alive connection is kept
    server: Any  # the service's _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


class _Server(ThreadingHTTPServer):
    """Keeps track of open connections so that stopping can close them and join their threads."""

    daemon_threads = False
    block_on_close = True

    def __init__(self, service: LocalHTTPService) -> None:
        super().__init__(("127.0.0.1", 0), service.handler_class)
        self.service = service
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
        # Clients drop keep-alive connections at will (libgit2 resets them, a size limit stops reading).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Wake every handler thread waiting on an idle keep-alive connection."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class LocalHTTPService:
    """A folder served over HTTP on 127.0.0.1 and a free port, optionally behind basic auth, optionally HTTPS.

    Subclasses name their request handler in :attr:`handler_class`; the handler reaches the service as
    ``self.server.service``. Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    With ``tls=True`` it serves HTTPS with a certificate from a test CA made at :meth:`start` (``ca_file``); with
    ``client_certificates=True`` too, only clients with a certificate from that CA (``client_cert_file``,
    ``client_key_file``) get an answer.

    Attributes:
        root: The folder served.
        ca_file: With ``tls``: the test CA's certificate (PEM), to trust; ``None`` otherwise.
        client_cert_file: With ``tls``: a client certificate the server accepts (PEM).
        client_key_file: Its private key (PEM).
        requests: ``(method, path and query)`` of every request received, in order, including refused ones.
            Entries are appended under a lock; read or clear it from the test's thread.
    """

    handler_class: ClassVar[type[ServiceHandler]]

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        client_certificates: bool = False,
    ) -> None:
        if (username is None) != (password is None):
            raise ConfigurationError(f"{type(self).__name__} needs both username and password, or neither")
        if client_certificates and not tls:
            raise ConfigurationError(f"{type(self).__name__}: client certificates need tls=True")
        self.tls = tls
        self.client_certificates = client_certificates
        self._certificates: Path | None = None
        self.ca_file: Path | None = None
        self.client_cert_file: Path | None = None
        self.client_key_file: Path | None = None
        self.root = Path(root).resolve()
        self.requests: list[tuple[str, str]] = []
        self._username = username
        self._password = password
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server else "stopped"
        auth = ", basic auth" if self._username is not None else ""
        return f"{type(self).__name__}(root={str(self.root)!r}, {where}{auth})"

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        if self._server is None:
            raise ConfigurationError(f"{type(self).__name__} is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:<port>`` (``https://`` with ``tls``)."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start listening and serving in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        self._server = _Server(self)
        if self.tls:
            self._server.socket = self._tls_context().wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
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
        if self._certificates is not None:
            shutil.rmtree(self._certificates, ignore_errors=True)
            self._certificates = None

    def _tls_context(self) -> ssl.SSLContext:
        """A server context with a fresh test CA's certificate, asking for client certificates if configured."""
        from reconcile.testing._tls import write_test_certificates  # noqa: PLC0415 - only TLS servers need it

        self._certificates = Path(tempfile.mkdtemp(prefix="reconcile-test-tls-"))
        write_test_certificates(self._certificates)
        self.ca_file = self._certificates / "ca.crt"
        self.client_cert_file = self._certificates / "client.crt"
        self.client_key_file = self._certificates / "client.key"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._certificates / "server.crt", self._certificates / "server.key")
        if self.client_certificates:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.ca_file)
        return context

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    def _authenticate(self, header: str | None) -> str | None:
        """The user name ("" when no auth is configured), or ``None`` when the request is refused."""
        if self._username is None or self._password is None:
            return ""
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        expected = f"{self._username}:{self._password}".encode()
        if hmac.compare_digest(f"{user}:{password}".encode(), expected):
            return user
        return None
