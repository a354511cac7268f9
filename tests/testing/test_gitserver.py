from __future__ import annotations

import base64
import gzip
import http.client
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconcile.errors import ConfigurationError
from reconcile.testing import LocalRepository
from reconcile.testing._gitserver import GitHTTPServer

pytestmark = pytest.mark.integration  # every test here starts a real smart-HTTP Git server

UPLOAD_PACK_RESULT = "application/x-git-upload-pack-result"


@pytest.fixture
def served(tmp_path: Path) -> tuple[Path, str]:
    """A folder holding app.git with one commit, and that commit's SHA."""
    repo = LocalRepository.init(tmp_path / "srv" / "app.git")
    sha = repo.commit({"README.md": "hello\n", "apps/web/deploy.yaml": "kind: Deployment\n"}, "first")
    return tmp_path / "srv", sha


@pytest.fixture
def server(served: tuple[Path, str]) -> Iterator[GitHTTPServer]:
    with GitHTTPServer(served[0]) as srv:
        yield srv


def _get(server: GitHTTPServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _pkt(line: bytes) -> bytes:
    return b"%04x" % (len(line) + 4) + line


def _upload_pack_request(sha: str) -> bytes:
    """A protocol v0 stateless upload-pack request wanting one commit."""
    return _pkt(f"want {sha}\n".encode()) + b"0000" + _pkt(b"done\n")


def _post(
    server: GitHTTPServer, body: bytes | Iterator[bytes], headers: dict[str, str], *, chunked: bool = False
) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(
            "POST",
            "/app.git/git-upload-pack",
            body=body,
            headers={"Content-Type": "application/x-git-upload-pack-request", **headers},
            encode_chunked=chunked,
        )
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        conn.close()


def test_advertises_refs_like_git_does(server: GitHTTPServer, served: tuple[Path, str]) -> None:
    status, headers, body = _get(server, "/app.git/info/refs?service=git-upload-pack")

    assert status == 200
    assert headers["Content-Type"] == "application/x-git-upload-pack-advertisement"
    assert body.startswith(b"001e# service=git-upload-pack\n")
    assert f"{served[1]} refs/heads/main".encode() in body
    assert server.requests == [("GET", "/app.git/info/refs?service=git-upload-pack")]


def test_missing_repository_is_404_from_the_cgi_status_header(server: GitHTTPServer) -> None:
    status, _, _ = _get(server, "/nope.git/info/refs?service=git-upload-pack")

    assert status == 404


def test_upload_pack_with_content_length(server: GitHTTPServer, served: tuple[Path, str]) -> None:
    status, content_type, body = _post(server, _upload_pack_request(served[1]), {})

    assert (status, content_type) == (200, UPLOAD_PACK_RESULT)
    assert body.startswith(b"0008NAK\n")
    assert b"PACK" in body


def test_upload_pack_with_chunked_body(server: GitHTTPServer, served: tuple[Path, str]) -> None:
    request = _upload_pack_request(served[1])
    chunks = iter([request[:10], request[10:25], request[25:]])

    status, content_type, body = _post(server, chunks, {"Transfer-Encoding": "chunked"}, chunked=True)

    assert (status, content_type) == (200, UPLOAD_PACK_RESULT)
    assert b"PACK" in body


def test_upload_pack_with_gzip_body(server: GitHTTPServer, served: tuple[Path, str]) -> None:
    compressed = gzip.compress(_upload_pack_request(served[1]))

    status, content_type, body = _post(server, compressed, {"Content-Encoding": "gzip"})

    assert (status, content_type) == (200, UPLOAD_PACK_RESULT)
    assert b"PACK" in body


def test_git_cli_clones_through_it(server: GitHTTPServer, served: tuple[Path, str], tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", server.url_for("app.git"), str(clone)], check=True, timeout=60)

    assert (clone / "apps" / "web" / "deploy.yaml").read_text() == "kind: Deployment\n"
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    assert head.stdout.strip() == served[1]
    assert ("POST", "/app.git/git-upload-pack") in server.requests


def test_basic_auth_refuses_then_accepts(served: tuple[Path, str], tmp_path: Path) -> None:
    good = "Basic " + base64.b64encode(b"alice:s3cret").decode()
    bad = "Basic " + base64.b64encode(b"alice:wrong").decode()
    path = "/app.git/info/refs?service=git-upload-pack"

    with GitHTTPServer(served[0], username="alice", password="s3cret") as srv:
        missing = _get(srv, path)
        refused = _get(srv, path, {"Authorization": bad})
        garbage = _get(srv, path, {"Authorization": "Basic !!!"})
        accepted = _get(srv, path, {"Authorization": good})
        clone = tmp_path / "clone"
        url = srv.url_for("app.git").replace("http://", "http://alice:s3cret@")
        subprocess.run(["git", "clone", "-q", url, str(clone)], check=True, timeout=60)

    assert missing[0] == 401
    assert missing[1]["WWW-Authenticate"] == 'Basic realm="reconcile"'
    assert refused[0] == 401
    assert garbage[0] == 401
    assert accepted[0] == 200
    assert (clone / "README.md").read_text() == "hello\n"
    assert len(srv.requests) >= 5  # the four above, then the clone's own


def test_stop_joins_the_thread_and_frees_the_port(served: tuple[Path, str]) -> None:
    srv = GitHTTPServer(served[0]).start()
    port = srv.port
    # An idle keep-alive connection must not keep stop() waiting.
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    idle.request("GET", "/app.git/info/refs?service=git-upload-pack")
    idle.getresponse().read()
    before = {t.name for t in threading.enumerate()}

    srv.stop()
    idle.close()

    assert "GitHTTPServer" in before
    assert "GitHTTPServer" not in {t.name for t in threading.enumerate()}
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    with pytest.raises(ConfigurationError, match="not running"):
        _ = srv.url
    srv.stop()  # stopping twice is harmless


def test_url_for_and_repr(server: GitHTTPServer) -> None:
    assert server.url_for("app.git") == f"http://127.0.0.1:{server.port}/app.git"
    assert server.url_for("/team/app.git") == f"http://127.0.0.1:{server.port}/team/app.git"
    assert repr(server).startswith("GitHTTPServer(root=")
    assert server.url in repr(server)


def test_password_is_not_in_repr(served: tuple[Path, str]) -> None:
    with GitHTTPServer(served[0], username="alice", password="s3cret-value") as srv:
        assert "s3cret-value" not in repr(srv)
        assert "basic auth" in repr(srv)


def test_username_without_password_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="both username and password"):
        GitHTTPServer(tmp_path, username="alice")


def test_requests_from_many_threads_are_all_recorded(server: GitHTTPServer) -> None:
    def hit() -> None:
        for _ in range(5):
            _get(server, "/app.git/HEAD")

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert server.requests == [("GET", "/app.git/HEAD")] * 20
