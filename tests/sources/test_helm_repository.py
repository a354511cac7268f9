from __future__ import annotations

import hashlib
import io
import json
import shutil
import socket
import tarfile
import threading
from pathlib import Path

import pytest

import reconcile as rc
from reconcile.errors import (
    AuthenticationError,
    ConfigurationError,
    RepositoryUnreachableError,
    RevisionNotFoundError,
    SourceError,
)
from reconcile.protocols import Source
from reconcile.renderers._helm import HelmRenderer
from reconcile.sources import Credentials, HelmRepositorySource
from reconcile.testing._chartrepo import ChartRepositoryServer, build_chart_repository, write_chart

# Every test here serves a repository over HTTP (most package charts with the real helm): the integration tier.
pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "s3cret-pa55word"
WEB_VERSIONS = ("0.9.0", "1.0.0", "1.2.0", "1.2.5", "1.3.0-rc.1", "2.0.0")
CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  chart: {{ .Chart.Name | quote }}
  version: {{ .Chart.Version | quote }}
"""


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory, helm_binary: str) -> Path:
    """A repository folder built by real helm: web in six versions, db in one; relative archive URLs."""
    sources = tmp_path_factory.mktemp("charts")
    charts = [
        write_chart(sources / version, "web", version, {"templates/settings.yaml": CONFIG_MAP})
        for version in WEB_VERSIONS
    ]
    charts.append(write_chart(sources / "db", "db", "3.1.0", {"templates/settings.yaml": CONFIG_MAP}))
    return build_chart_repository(charts, tmp_path_factory.mktemp("repo"), helm=helm_binary)


@pytest.fixture
def srv_root(tmp_path: Path, packaged: Path) -> Path:
    """A copy of the packaged repository that a test may change."""
    return Path(shutil.copytree(packaged, tmp_path / "srv"))


@pytest.fixture
def server(srv_root: Path):
    with ChartRepositoryServer(srv_root) as running:
        yield running


@pytest.fixture
def auth_server(srv_root: Path):
    with ChartRepositoryServer(srv_root, username=USER, password=PASSWORD) as running:
        yield running


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_exact_version_is_fetched_unpacked_and_verified(server, srv_root, cache):
    source = HelmRepositorySource(server.url, "web", "1.2.0", cache_dir=cache)
    assert isinstance(source, Source)

    snapshot = source.fetch()

    digest = sha256(srv_root / "web-1.2.0.tgz")
    assert snapshot.revision == rc.model.Revision(sha=digest, ref="1.2.0", message="web 1.2.0")
    assert snapshot.root == cache / digest
    assert snapshot.path == "web"
    assert "version: 1.2.0" in (snapshot.directory / "Chart.yaml").read_text()
    assert (snapshot.directory / "templates" / "settings.yaml").read_text() == CONFIG_MAP
    assert server.requests == [("GET", "/index.yaml"), ("GET", "/web-1.2.0.tgz")]


@pytest.mark.parametrize(
    ("version", "chosen"),
    [
        ("*", "2.0.0"),
        ("1.2.*", "1.2.5"),
        (">=1.0.0 <2.0.0", "1.2.5"),
        ("^1.2", "1.2.5"),
        ("~1.2.0", "1.2.5"),
        ("^0.9", "0.9.0"),
        ("<1", "0.9.0"),
        ("1.3.0-rc.1", "1.3.0-rc.1"),
        (">=1.3.0-0 <2.0.0", "1.3.0-rc.1"),
    ],
)
def test_ranges_pick_the_highest_match_and_prereleases_only_when_asked(server, srv_root, cache, version, chosen):
    snapshot = HelmRepositorySource(server.url, "web", version, cache_dir=cache).fetch()

    assert snapshot.revision.ref == chosen
    assert snapshot.revision.sha == sha256(srv_root / f"web-{chosen}.tgz")
    assert f"version: {chosen}" in (snapshot.directory / "Chart.yaml").read_text()


def test_absolute_archive_urls_and_a_trailing_slash_work(tmp_path, helm_binary, cache):
    with ChartRepositoryServer(tmp_path / "abs") as server:
        chart = write_chart(tmp_path / "src", "api", "0.1.0", {"templates/settings.yaml": CONFIG_MAP})
        archives = build_chart_repository(
            [chart], server.root / "archives", url=f"{server.url}/archives", helm=helm_binary
        )
        (archives / "index.yaml").rename(server.root / "index.yaml")  # the index at the top, archives below
        assert f"- {server.url}/archives/api-0.1.0.tgz" in (server.root / "index.yaml").read_text()

        snapshot = HelmRepositorySource(f"{server.url}/", "api", cache_dir=cache).fetch()

    assert snapshot.revision.ref == "0.1.0"
    assert server.requests == [("GET", "/index.yaml"), ("GET", "/archives/api-0.1.0.tgz")]


def test_a_second_fetch_of_a_cached_chart_downloads_only_the_index(server, cache):
    first = HelmRepositorySource(server.url, "web", "^1", cache_dir=cache).fetch()
    server.requests.clear()

    again = HelmRepositorySource(server.url, "web", "1.2.5", cache_dir=cache).fetch()

    assert again == first
    assert server.requests == [("GET", "/index.yaml")]


def test_parallel_fetches_of_one_chart_unpack_it_once(server, cache):
    results: list[rc.model.Snapshot | BaseException] = []

    def fetch() -> None:
        try:
            results.append(HelmRepositorySource(server.url, "web", "2.0.0", cache_dir=cache).fetch())
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            results.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({str(r) for r in results}) == 1
    assert isinstance(results[0], rc.model.Snapshot)
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [results[0].revision.sha, f"{results[0].revision.sha}.lock"]
    )


def test_an_unknown_chart_names_the_charts_there_are(server, cache):
    with pytest.raises(RevisionNotFoundError) as caught:
        HelmRepositorySource(server.url, "nginx", cache_dir=cache).fetch()
    assert str(caught.value) == f"chart 'nginx' is not in {server.url}; it has db, web"
    assert caught.value.url == server.url
    assert caught.value.revision == "*"
    assert not caught.value.retryable


def test_an_unknown_version_names_the_versions_there_are(server, cache):
    with pytest.raises(RevisionNotFoundError) as caught:
        HelmRepositorySource(server.url, "web", ">=3.0.0", cache_dir=cache).fetch()
    assert str(caught.value) == (
        f"no version of chart 'web' in {server.url} matches '>=3.0.0'; "
        "it has 2.0.0, 1.3.0-rc.1, 1.2.5, 1.2.0, 1.0.0, 0.9.0"
    )
    assert not cache.exists()  # nothing was downloaded or written


def test_an_archive_that_does_not_match_the_digest_is_refused_and_discarded(server, srv_root, cache):
    expected = sha256(srv_root / "web-1.2.0.tgz")
    shutil.copy(srv_root / "web-1.0.0.tgz", srv_root / "web-1.2.0.tgz")  # served bytes differ from the index

    with pytest.raises(SourceError) as caught:
        HelmRepositorySource(server.url, "web", "1.2.0", cache_dir=cache).fetch()

    error = caught.value
    assert type(error) is SourceError
    assert f"has SHA-256 {sha256(srv_root / 'web-1.0.0.tgz')}, but the index of {server.url} says {expected}" in str(
        error
    )
    assert "discarded" in str(error)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_an_unreachable_repository_is_a_retryable_error(cache):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/charts"

    with pytest.raises(RepositoryUnreachableError) as caught:
        HelmRepositorySource(url, "web", cache_dir=cache, timeout=5).fetch()

    assert caught.value.retryable
    assert str(caught.value).startswith(f"cannot reach {url}/index.yaml for the index: ")
    assert "refused" in str(caught.value).lower()


def test_a_missing_index_is_reported_as_unreachable(tmp_path, cache):
    with (
        ChartRepositoryServer(tmp_path / "empty") as server,
        pytest.raises(RepositoryUnreachableError, match=r"cannot get the index from .*/index.yaml: HTTP 404"),
    ):
        HelmRepositorySource(server.url, "web", cache_dir=cache).fetch()


def test_basic_auth_works_and_a_wrong_password_is_refused_without_showing_it(auth_server, cache):
    good = HelmRepositorySource(auth_server.url, "web", "1.0.0", username=USER, password=PASSWORD, cache_dir=cache)
    assert good.fetch().revision.ref == "1.0.0"

    wrong = "not-the-pa55word"
    with pytest.raises(AuthenticationError) as caught:
        HelmRepositorySource(auth_server.url, "web", username=USER, password=wrong, cache_dir=cache).fetch()
    message = str(caught.value)
    assert message == f"{auth_server.url}/index.yaml refused the credentials for the index (HTTP 401)"
    assert wrong not in message
    assert wrong not in repr(caught.value.__cause__)
    assert not caught.value.retryable

    with pytest.raises(AuthenticationError, match=r"index.yaml requires credentials .* none were given"):
        HelmRepositorySource(auth_server.url, "web", cache_dir=cache).fetch()


def test_credentials_in_the_url_are_used_and_never_shown(auth_server, cache):
    url = auth_server.url.replace("http://", f"http://{USER}:{PASSWORD}@")
    source = HelmRepositorySource(url, "web", "0.9.0", cache_dir=cache)

    assert source.url == auth_server.url
    assert PASSWORD not in repr(source)
    assert source.fetch().revision.ref == "0.9.0"
    with pytest.raises(RevisionNotFoundError) as caught:
        HelmRepositorySource(url, "nope", cache_dir=cache).fetch()
    assert PASSWORD not in str(caught.value)


def test_credentials_go_to_another_host_only_when_passed_on_purpose(tmp_path, auth_server, cache):
    # The index lives on an open server; the archive on the password-protected one (another origin).
    (tmp_path / "front").mkdir()
    index = (auth_server.root / "index.yaml").read_text()
    (tmp_path / "front" / "index.yaml").write_text(index.replace("- web-", f"- {auth_server.url}/web-"))
    with ChartRepositoryServer(tmp_path / "front") as front:
        kept = HelmRepositorySource(front.url, "web", "1.0.0", username=USER, password=PASSWORD, cache_dir=cache)
        with pytest.raises(
            AuthenticationError,
            match=r"web-1.0.0.tgz requires credentials for chart web 1.0.0 \(HTTP 401\); they were not sent",
        ):
            kept.fetch()

        passed = HelmRepositorySource(
            front.url, "web", "1.0.0", username=USER, password=PASSWORD, cache_dir=cache, pass_credentials=True
        )
        assert passed.fetch().revision.ref == "1.0.0"


def _archive(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _serve_archive(root: Path, data: bytes, *, digest: str | None = None) -> None:
    """A repository whose only chart, evil 1.0.0, is ``data`` (JSON is valid YAML)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "evil-1.0.0.tgz").write_bytes(data)
    entry = {"name": "evil", "version": "1.0.0", "urls": ["evil-1.0.0.tgz"]}
    entry["digest"] = digest if digest is not None else hashlib.sha256(data).hexdigest()
    (root / "index.yaml").write_text(json.dumps({"apiVersion": "v1", "entries": {"evil": [entry]}}))


HOSTILE_ABSOLUTE = "/tmp/reconcile-escaped.yaml"  # noqa: S108 - a path a hostile archive writes to
CHART_YAML = _file("evil/Chart.yaml", b"apiVersion: v2\nname: evil\nversion: 1.0.0\n")


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (_file("evil/../../escaped.yaml", b"x"), "member 'evil/../../escaped.yaml' points outside"),
        (_file("../escaped.yaml", b"x"), "member '../escaped.yaml' points outside"),
        (_file(HOSTILE_ABSOLUTE, b"x"), f"member '{HOSTILE_ABSOLUTE}' has an absolute or unsafe path"),
        (_special("evil/templates/passwd.yaml", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (_special("evil/templates/up", tarfile.SYMTYPE, "../../.."), "is a link"),
        (_special("evil/templates/hard.yaml", tarfile.LNKTYPE, "evil/Chart.yaml"), "is a link"),
        (_special("evil/dev", tarfile.CHRTYPE), "is a device, FIFO or other special file"),
        (_special("evil/fifo", tarfile.FIFOTYPE), "is a device, FIFO or other special file"),
    ],
)
def test_hostile_archives_are_refused(tmp_path, cache, member, problem):
    root = tmp_path / "srv"
    _serve_archive(root, _archive([CHART_YAML, member]))

    with ChartRepositoryServer(root) as server:
        url = server.url
        with pytest.raises(SourceError) as caught:
            HelmRepositorySource(url, "evil", cache_dir=cache).fetch()

    assert str(caught.value).startswith(f"chart evil 1.0.0 from {url} is refused: ")
    assert problem in str(caught.value)
    assert not (tmp_path / "escaped.yaml").exists()
    assert not Path(HOSTILE_ABSOLUTE).exists()
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []  # scratch removed


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ([_file("evil/values.yaml", b"a: 1\n")], "it holds no evil/Chart.yaml"),
        ([CHART_YAML, _file("other/Chart.yaml", b"name: other\n")], "exactly one top-level folder"),
        ([CHART_YAML, CHART_YAML], "member 'evil/Chart.yaml' appears twice"),
    ],
)
def test_archives_that_are_not_one_chart_are_refused(tmp_path, cache, members, problem):
    _serve_archive(tmp_path / "srv", _archive(members))
    with ChartRepositoryServer(tmp_path / "srv") as server, pytest.raises(SourceError, match=problem):
        HelmRepositorySource(server.url, "evil", cache_dir=cache).fetch()


def test_size_limits_are_enforced(tmp_path, cache):
    big = _archive([CHART_YAML, _file("evil/big.yaml", b"#" * 200_000)])  # compresses to a few hundred bytes
    _serve_archive(tmp_path / "srv", big)
    with ChartRepositoryServer(tmp_path / "srv") as server:
        with pytest.raises(SourceError, match="refused: its files hold over 100000 bytes"):
            HelmRepositorySource(server.url, "evil", cache_dir=cache, max_chart_size=100_000).fetch()
        with pytest.raises(SourceError, match=r"chart evil 1.0.0 at .* is \d+ bytes, over the limit of 100"):
            HelmRepositorySource(server.url, "evil", cache_dir=cache, max_chart_size=100).fetch()
        with pytest.raises(SourceError, match=r"the index at .*/index.yaml is \d+ bytes, over the limit of 10"):
            HelmRepositorySource(server.url, "evil", cache_dir=cache, max_index_size=10).fetch()
        assert HelmRepositorySource(server.url, "evil", cache_dir=cache).fetch().revision.ref == "1.0.0"


def test_garbage_is_neither_an_index_nor_an_archive(tmp_path, cache):
    _serve_archive(tmp_path / "srv", b"not gzip at all")
    with ChartRepositoryServer(tmp_path / "srv") as server:
        with pytest.raises(SourceError, match=r"refused: it is not a readable \.tgz archive"):
            HelmRepositorySource(server.url, "evil", cache_dir=cache).fetch()
        (server.root / "index.yaml").write_text("entries: [unclosed\n")
        with pytest.raises(SourceError, match="is not valid YAML"):
            HelmRepositorySource(server.url, "evil", cache_dir=cache).fetch()
        (server.root / "index.yaml").write_text(
            json.dumps({"entries": {"evil": [{"version": "1.0.0", "urls": ["file:///etc/passwd"]}]}})
        )
        with pytest.raises(SourceError, match="has a URL that is not http"):
            HelmRepositorySource(server.url, "evil", cache_dir=cache).fetch()


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"url": "oci://registry.example.com/charts"}, "OCI chart registries"),
        ({"url": "file:///srv/charts"}, "must be http"),
        ({"url": ""}, r"HelmRepositorySource\(url\): expected a repository URL, got an empty string"),
        ({"chart": "a/b"}, "needs a chart name"),
        ({"version": ">=1 <"}, "is not a version constraint"),
        ({"timeout": 0}, "timeout must be positive"),
    ],
)
def test_options_that_cannot_work_are_refused_at_once(kwargs, problem):
    arguments = {"url": "https://charts.example.com", "chart": "web", **kwargs}
    with pytest.raises(ConfigurationError, match=problem):
        HelmRepositorySource(**arguments)


def test_end_to_end_a_chart_from_a_repository_reconciled_with_helm(server, cache, helm_binary):
    cluster = rc.MemoryCluster()
    app = rc.Reconciler(
        name="web",
        source=HelmRepositorySource(server.url, "web", "^1.2", cache_dir=cache),
        renderer=HelmRenderer(release_name="shop", namespace="default", helm=helm_binary),
        cluster=cluster,
        policy=rc.SyncPolicy(automated=True),
    )

    result = app.reconcile()

    assert result.error is None
    assert result.sync_status is rc.SyncStatus.SYNCED
    assert result.revision.ref == "1.2.5"
    live = cluster.get(rc.ResourceKey("", "ConfigMap", "default", "shop-settings"))
    assert live is not None
    assert live["data"] == {"chart": "web", "version": "1.2.5"}


def test_repository_credentials_by_url_are_used_for_the_index_and_the_archive(auth_server, cache):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "charts", "labels": {"argocd.argoproj.io/secret-type": "repository"}},
        "stringData": {"type": "helm", "url": auth_server.url, "username": USER, "password": PASSWORD},
    }
    credentials = Credentials.from_secrets([secret])
    source = HelmRepositorySource(auth_server.url, "web", "1.0.0", cache_dir=cache, credentials=credentials)
    assert source.fetch().revision.ref == "1.0.0"
    assert PASSWORD not in repr(source)


def test_an_https_repository_is_trusted_by_its_ca_and_sees_the_client_certificate(packaged, tmp_path):
    with ChartRepositoryServer(packaged, tls=True, client_certificates=True) as server:
        assert server.url.startswith("https://")
        assert server.ca_file is not None
        assert server.client_cert_file is not None
        assert server.client_key_file is not None
        with pytest.raises(
            RepositoryUnreachableError,
            match=r"TLS with https://127.0.0.1:\d+/index.yaml failed .*certificate verify failed",
        ) as untrusted:
            HelmRepositorySource(server.url, "web", "1.2.0", cache_dir=tmp_path / "a").fetch()
        assert untrusted.value.retryable is False
        with pytest.raises(RepositoryUnreachableError):  # trusted, but no client certificate
            HelmRepositorySource(server.url, "web", "1.2.0", ca_file=server.ca_file, cache_dir=tmp_path / "b").fetch()
        key = server.client_key_file.read_text()
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "charts", "labels": {"argocd.argoproj.io/secret-type": "repository"}},
            "stringData": {
                "type": "helm",
                "url": server.url,
                "tlsClientCertData": server.client_cert_file.read_text(),
                "tlsClientCertKey": key,
            },
        }
        ca = {"127.0.0.1": server.ca_file.read_text()}
        credentials = Credentials(Credentials.from_secrets([secret]).entries, tls_certs=ca)
        source = HelmRepositorySource(server.url, "web", "1.2.0", credentials=credentials, cache_dir=tmp_path / "c")
        assert source.fetch().revision.ref == "1.2.0"
        assert key not in repr(source)
        secret["stringData"]["insecure"] = "true"
        skipping = Credentials.from_secrets([secret])  # no CA: verification is off, as Argo CD's insecure says
        insecure = HelmRepositorySource(server.url, "web", "1.2.0", credentials=skipping, cache_dir=tmp_path / "d")
        assert insecure.fetch().revision.ref == "1.2.0"
