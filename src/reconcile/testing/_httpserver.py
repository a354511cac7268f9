"""What the test servers share: HTTP on 127.0.0.1 in a background thread, basic auth and a log of requests."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import socket
import sys
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
    """A folder served over HTTP on 127.0.0.1 and a free port, optionally behind basic auth.

    Subclasses name their request handler in :attr:`handler_class`; the handler reaches the service as
    ``self.server.service``. Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    Attributes:
        root: The folder served.
        requests: ``(method, path and query)`` of every request received, in order, including refused ones.
            Entries are appended under a lock; read or clear it from the test's thread.
    """

    handler_class: ClassVar[type[ServiceHandler]]

    def __init__(
        self, root: str | os.PathLike[str], *, username: str | None = None, password: str | None = None
    ) -> None:
        if (username is None) != (password is None):
            raise ConfigurationError(f"{type(self).__name__} needs both username and password, or neither")
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
        """The server's base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start listening and serving in a background thread; returns ``self``."""
        if self._server is not None:
            return self
        self._server = _Server(self)
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
