"""A scriptable OCI registry for the hostile cases a real registry will not produce.

The real registry (Debian's docker-registry, ``reconcile.testing.OCIRegistry``) serves the honest paths. This
one lies on request: a wrong digest, a blob that is not what its digest says, 401 for ever, 100,000 tags, a
layer larger than any limit, blobs redirected to another host; and it speaks the bearer-token challenge that
public registries (ghcr.io, Docker Hub) use, which docker-registry only does with an external token service.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tarball(
    files: dict[str, str | bytes], *, gzip: bool = True, extra: Callable[[tarfile.TarFile], None] | None = None
) -> bytes:
    """A tar(.gz) of ``files`` (path: content); ``extra`` may add hostile members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gzip else "w") as archive:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
        if extra is not None:
            extra(archive)
    return buffer.getvalue()


def chart_archive(name: str = "web", version: str = "1.2.0", templates: dict[str, str] | None = None) -> bytes:
    files: dict[str, str | bytes] = {f"{name}/Chart.yaml": f"apiVersion: v2\nname: {name}\nversion: {version}\n"}
    for file, text in (templates or {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"}).items():
        files[f"{name}/templates/{file}"] = text
    return tarball(files)


class FakeRegistry:
    """An OCI registry in a thread on ``host`` (``127.0.0.1`` or ``localhost``), scripted by its attributes.

    Attributes:
        auth: ``None`` (anonymous), ``"basic"``, ``"bearer"`` (a token service at ``/token`` that takes the
            basic credentials, or none when ``anonymous_tokens``), or ``"never"`` (401 to everything).
        requests: ``(method, path, Authorization header or None)`` of every request.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host_name = host
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], bytes] = {}
        self.tag_lists: dict[str, list[str]] = {}
        self.auth: str | None = None
        self.username = "ci"
        self.password = "s3cret-pw"
        self.anonymous_tokens = False
        self.page_size = 1000
        self.lie_about_digest: str | None = None
        self.corrupt_blobs = False
        self.redirect_blobs_to: str | None = None
        self.endless_blob = False
        self.requests: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -------------------------------------------------------------------------------------------- content

    def push(
        self, repository: str, tag: str, layer: bytes, *, layer_type: str = HELM_LAYER, config_type: str = HELM_CONFIG
    ) -> str:
        """Store an artifact of one layer under ``repository:tag``; return the manifest's digest."""
        config = b"{}"
        self.blobs[digest_of(config)] = config
        self.blobs[digest_of(layer)] = layer
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": config_type, "digest": digest_of(config), "size": len(config)},
                "layers": [{"mediaType": layer_type, "digest": digest_of(layer), "size": len(layer)}],
            }
        ).encode()
        return self.put_manifest(repository, tag, manifest)

    def put_manifest(self, repository: str, tag: str, manifest: bytes) -> str:
        digest = digest_of(manifest)
        self.manifests[(repository, tag)] = manifest
        self.manifests[(repository, digest)] = manifest
        tags = self.tag_lists.setdefault(repository, [])
        if tag not in tags:
            tags.append(tag)
        return digest

    # ----------------------------------------------------------------------------------------------- server

    @property
    def host(self) -> str:
        assert self._server is not None
        return f"{self.host_name}:{self._server.server_address[1]}"

    def start(self) -> FakeRegistry:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                registry._handle(self)

            do_HEAD = do_GET  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------------------------------------- handling

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        authorization = handler.headers.get("Authorization")
        with self._lock:
            self.requests.append((handler.command, handler.path, authorization))
        url = urlsplit(handler.path)
        if url.path == "/token":
            self._token(handler, authorization, parse_qs(url.query))
            return
        if not self._authorized(authorization):
            challenge = (
                f'Bearer realm="http://{self.host}/token",service="fake",scope="repository:x:pull"'
                if self.auth in ("bearer", "never")
                else 'Basic realm="fake"'
            )
            self._send(handler, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
            return
        parts = url.path.split("/")
        if url.path.startswith("/v2/") and "/blobs/" in url.path:
            digest = parts[-1]
            if self.redirect_blobs_to is not None:
                self._send(handler, 307, b"", {"Location": f"{self.redirect_blobs_to}/blob/{digest}"})
            elif digest in self.blobs or self.endless_blob:
                self._blob(handler, digest)
            else:
                self._send(handler, 404, b"")
        elif url.path.startswith("/v2/") and url.path.endswith("/tags/list"):
            self._tags(handler, url.path[4 : -len("/tags/list")], parse_qs(url.query))
        elif url.path.startswith("/v2/") and "/manifests/" in url.path:
            repository, _, reference = url.path[4:].rpartition("/manifests/")
            data = self.manifests.get((repository, reference))
            if data is None:
                self._send(handler, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
                return
            claimed = self.lie_about_digest or digest_of(data)
            self._send(handler, 200, data, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": claimed})
        elif url.path.startswith("/blob/"):  # where another registry redirected a blob
            self._blob(handler, parts[-1])
        else:
            self._send(handler, 404, b"")

    def _blob(self, handler: BaseHTTPRequestHandler, digest: str) -> None:
        if self.endless_blob:
            handler.send_response(200)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            chunk = b"\0" * 65536
            try:
                for _ in range(100_000):  # 6.5 GB, far past any limit: the client must stop reading
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                return
            return
        data = self.blobs.get(digest)
        if data is None:
            self._send(handler, 404, b"")
            return
        if self.corrupt_blobs:
            data = data[:-1] + bytes([data[-1] ^ 1])
        self._send(handler, 200, data, {"Content-Type": "application/octet-stream"})

    def _tags(self, handler: BaseHTTPRequestHandler, repository: str, query: dict[str, list[str]]) -> None:
        tags = self.tag_lists.get(repository)
        if tags is None:
            self._send(handler, 404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}')
            return
        start = int(query.get("last", ["-1"])[0]) + 1 if "last" in query else 0
        page = tags[start : start + self.page_size]
        headers = {"Content-Type": "application/json"}
        if start + self.page_size < len(tags):
            headers["Link"] = (
                f'</v2/{repository}/tags/list?n={self.page_size}&last={start + self.page_size - 1}>; rel="next"'
            )
        self._send(handler, 200, json.dumps({"name": repository, "tags": page}).encode(), headers)

    def _authorized(self, authorization: str | None) -> bool:
        if self.auth is None:
            return True
        if self.auth == "never":
            return False
        if self.auth == "basic":
            return authorization == "Basic " + self._basic()
        return authorization == "Bearer token-for-" + ("ci" if not self.anonymous_tokens else "anyone")

    def _token(self, handler: BaseHTTPRequestHandler, authorization: str | None, query: dict[str, list[str]]) -> None:
        if self.auth == "never":
            self._send(handler, 401, b"{}")
        elif self.anonymous_tokens and authorization is None:
            self._send(handler, 200, json.dumps({"token": "token-for-anyone"}).encode())
        elif authorization == "Basic " + self._basic():
            self._send(handler, 200, json.dumps({"token": "token-for-ci"}).encode())
        else:
            self._send(handler, 401, b"{}")

    def _basic(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
