"""OCISource against a scripted registry: the bearer challenge, and every way a registry can lie or stall."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path

import pytest

import reconcile as rc
from oci_fakes import FakeRegistry, chart_archive, digest_of, tarball
from reconcile.errors import (
    AuthenticationError,
    ConfigurationError,
    PathNotFoundError,
    RepositoryUnreachableError,
    RevisionNotFoundError,
    SourceError,
)
from reconcile.sources import Credentials

pytestmark = pytest.mark.integration  # a registry on loopback, in a thread

PLAIN = "application/vnd.oci.image.layer.v1.tar+gzip"


@pytest.fixture
def registry():
    with FakeRegistry() as fake:
        yield fake


def _source(registry: FakeRegistry, tmp_path: Path, reference: str, repository: str = "charts/web", **kwargs):
    return rc.OCISource(
        f"oci://{registry.host}/{repository}", reference, plain_http=True, cache_dir=tmp_path / "cache", **kwargs
    )


def _blob_requests(registry: FakeRegistry) -> list[str]:
    return [path for _, path, _ in registry.requests if "/blobs/" in path or path.startswith("/blob/")]


# ------------------------------------------------------------------------------------------ honest registry


def test_a_chart_by_exact_tag_is_verified_unpacked_and_reported_by_its_manifest_digest(registry, tmp_path):
    digest = registry.push("charts/web", "1.2.0", chart_archive())
    snapshot = _source(registry, tmp_path, "1.2.0").fetch()
    assert snapshot.path == "web"
    assert (snapshot.directory / "Chart.yaml").is_file()
    assert (snapshot.directory / "templates" / "cm.yaml").is_file()
    assert snapshot.revision.sha == digest.removeprefix("sha256:")
    assert snapshot.revision.ref == "1.2.0"
    assert digest in snapshot.revision.message


def test_a_range_is_resolved_against_every_page_of_tags_as_helm_resolves_it(registry, tmp_path):
    registry.page_size = 2
    for version in ("0.9.0", "1.0.0", "1.2.0", "1.3.0-rc.1", "1.2.1_build.7", "2.0.0"):
        registry.push("charts/web", version, chart_archive(version=version.replace("_", "+")))
    assert _source(registry, tmp_path, "^1.0").fetch().revision.ref == "1.2.1_build.7"  # '+' is '_' in tags
    assert _source(registry, tmp_path, ">=1.3.0-rc.0 <2").fetch().revision.ref == "1.3.0-rc.1"
    assert _source(registry, tmp_path, "1.2.1+build.7").fetch().revision.ref == "1.2.1_build.7"
    with pytest.raises(RevisionNotFoundError, match=r"no tag of .* matches '\^3'; it has 2.0.0, 1.3.0-rc.1"):
        _source(registry, tmp_path, "^3").fetch()
    with pytest.raises(RevisionNotFoundError, match=r"has no tag or digest '9.9.9'"):
        _source(registry, tmp_path, "9.9.9").fetch()


def test_a_cached_digest_makes_no_request_and_a_cached_tag_only_reads_its_manifest(registry, tmp_path):
    digest = registry.push("charts/web", "1.2.0", chart_archive())
    first = _source(registry, tmp_path, "1.2.0")
    first.fetch()
    assert len(_blob_requests(registry)) == 1
    registry.requests.clear()
    again = _source(registry, tmp_path, "1.2.0")
    assert again.fetch().revision.sha == digest.removeprefix("sha256:")
    assert [path for _, path, _ in registry.requests] == ["/v2/charts/web/manifests/1.2.0"]
    assert again.requests_made == [f"GET http://{registry.host}/v2/charts/web/manifests/1.2.0"]
    registry.requests.clear()
    pinned = _source(registry, tmp_path, digest)
    assert pinned.fetch().revision.sha == digest.removeprefix("sha256:")
    assert registry.requests == []
    assert pinned.requests_made == []


def test_plain_manifests_in_a_layer_are_a_snapshot_with_a_path(registry, tmp_path):
    layer = tarball({"base/cm.yaml": "kind: ConfigMap\n", "overlays/prod/kustomization.yaml": "resources: []\n"})
    registry.push(
        "manifests/web", "v3", layer, layer_type=PLAIN, config_type="application/vnd.oci.image.config.v1+json"
    )
    snapshot = _source(registry, tmp_path, "v3", "manifests/web", path="overlays/prod").fetch()
    assert snapshot.path == "overlays/prod"
    assert (snapshot.directory / "kustomization.yaml").is_file()
    with pytest.raises(PathNotFoundError, match=r"has no folder 'missing'"):
        _source(registry, tmp_path, "v3", "manifests/web", path="missing").fetch()
    with pytest.raises(ConfigurationError, match=r"must be a relative folder"):
        _source(registry, tmp_path, "v3", "manifests/web", path="../etc")


def test_the_bearer_challenge_buys_a_token_with_the_credentials_or_anonymously(registry, tmp_path):
    registry.auth = "bearer"
    registry.push("charts/web", "1.2.0", chart_archive())
    snapshot = _source(registry, tmp_path, "1.2.0", username="ci", password="s3cret-pw").fetch()
    assert snapshot.path == "web"
    tokens = [auth for _, path, auth in registry.requests if path.startswith("/token")]
    assert tokens
    assert tokens[0] is not None
    assert tokens[0].startswith("Basic ")
    assert [auth for _, path, auth in registry.requests if "/blobs/" in path] == ["Bearer token-for-ci"]
    with pytest.raises(AuthenticationError, match=r"requires credentials .* and none were given"):
        _source(registry, tmp_path / "b", "1.2.0").fetch()
    registry.anonymous_tokens = True
    assert _source(registry, tmp_path / "c", "1.2.0").fetch().path == "web"


def test_basic_auth_comes_from_credentials_by_url_and_plain_http_only_when_asked(registry, tmp_path):
    registry.auth = "basic"
    registry.push("charts/web", "1.2.0", chart_archive())
    creds = tmp_path / "creds.yaml"
    creds.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: r\n  labels:\n"
        "    argocd.argoproj.io/secret-type: repo-creds\nstringData:\n  type: helm\n"
        f"  url: {registry.host}\n  enableOCI: 'true'\n  insecureOCIForceHttp: 'true'\n"
        "  username: ci\n  password: s3cret-pw\n"
    )
    credentials = Credentials.from_file(creds)
    source = rc.OCISource(f"{registry.host}/charts/web", "1.2.0", credentials=credentials, cache_dir=tmp_path / "c")
    assert source.fetch().path == "web"
    # Without insecureOCIForceHttp the registry is spoken to over TLS, which it does not speak: never plain HTTP.
    served = len(registry.requests)
    with pytest.raises(RepositoryUnreachableError) as caught:
        rc.OCISource(f"oci://{registry.host}/charts/web", "1.2.0", cache_dir=tmp_path / "d").fetch()
    assert caught.value.retryable is False
    assert "TLS with" in str(caught.value)
    assert len(registry.requests) == served  # no request fell back to plain HTTP


def test_a_docker_config_json_gives_registry_credentials(registry, tmp_path):
    registry.auth = "basic"
    registry.push("charts/web", "1.2.0", chart_archive())
    config = tmp_path / "config.json"
    token = __import__("base64").b64encode(b"ci:s3cret-pw").decode()
    config.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    credentials = Credentials.from_docker_config(config)
    assert "s3cret-pw" not in repr(credentials)
    source = rc.OCISource(
        f"oci://{registry.host}/charts/web", "1.2.0", credentials=credentials, plain_http=True, cache_dir=tmp_path
    )
    assert source.fetch().path == "web"
    config.write_text(json.dumps({"auths": {}, "credsStore": "desktop"}))
    with pytest.raises(ConfigurationError, match=r"config.json: credsStore .* reconcile runs no credential helper"):
        Credentials.from_docker_config(config)


# ----------------------------------------------------------------------------------------- hostile registry


def test_a_manifest_whose_digest_is_not_the_claimed_one_is_discarded(registry, tmp_path):
    registry.push("charts/web", "1.2.0", chart_archive())
    registry.lie_about_digest = "sha256:" + "0" * 64
    with pytest.raises(SourceError, match=r"the registry says sha256:0{64}; it was discarded"):
        _source(registry, tmp_path, "1.2.0").fetch()
    assert _blob_requests(registry) == []


def test_a_manifest_asked_for_by_digest_must_hash_to_it(registry, tmp_path):
    registry.push("charts/web", "1.2.0", chart_archive())
    wrong = "sha256:" + "1" * 64
    registry.manifests[("charts/web", wrong)] = registry.manifests[("charts/web", "1.2.0")]
    with pytest.raises(SourceError, match=r"was asked for by sha256:1{64}; it was discarded"):
        _source(registry, tmp_path, wrong).fetch()


def test_a_layer_that_is_not_what_its_digest_says_is_discarded_and_nothing_is_cached(registry, tmp_path):
    registry.push("charts/web", "1.2.0", chart_archive())
    registry.corrupt_blobs = True
    with pytest.raises(SourceError, match=r"the layer of 1.2.0 from .* has digest sha256:[0-9a-f]{64}, not"):
        _source(registry, tmp_path, "1.2.0").fetch()
    assert not any((tmp_path / "cache").glob("*/artifact.json"))


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("../escape.yaml", r"points outside"),
        ("/etc/passwd", r"absolute or unsafe path"),
        ("link", r"is a link"),
    ],
)
def test_a_layer_with_unsafe_members_is_refused(registry, tmp_path, member, expected):
    def hostile(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(member)
        if member == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            archive.addfile(info)
        else:
            info.size = 4
            archive.addfile(info, io.BytesIO(b"evil"))

    registry.push("manifests/web", "v1", tarball({"cm.yaml": "kind: ConfigMap\n"}, extra=hostile), layer_type=PLAIN)
    with pytest.raises(SourceError, match=expected):
        _source(registry, tmp_path, "v1", "manifests/web").fetch()
    assert not (tmp_path / "escape.yaml").exists()


def test_a_huge_layer_is_refused_by_its_declared_size_and_an_endless_one_stops_at_the_limit(registry, tmp_path):
    layer = chart_archive()
    registry.push("charts/web", "1.2.0", layer)
    with pytest.raises(SourceError, match=r"is \d+ bytes, over the limit of 100"):
        _source(registry, tmp_path, "1.2.0", max_size=100).fetch()
    assert _blob_requests(registry) == []
    registry.endless_blob = True  # the descriptor says a few hundred bytes; the registry sends gigabytes
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"over the limit of 1048576 bytes"):
        _source(registry, tmp_path, "1.2.0", max_size=1 << 20).fetch()
    assert time.monotonic() - started < 10


def test_a_registry_answering_401_for_ever_is_an_authentication_error_after_two_requests(registry, tmp_path):
    registry.auth = "never"
    registry.push("charts/web", "1.2.0", chart_archive())
    started = time.monotonic()
    with pytest.raises(
        AuthenticationError, match=r"refused the credentials for the manifest 1.2.0 \(HTTP 401\)"
    ) as caught:
        _source(registry, tmp_path, "1.2.0", username="ci", password="wrong-password-1").fetch()
    assert "wrong-password-1" not in str(caught.value)
    assert len(registry.requests) == 2  # the manifest, the token service; then no more
    assert time.monotonic() - started < 5


def test_a_tag_list_of_100000_tags_is_read_in_pages_and_a_limit_stops_a_longer_one(registry, tmp_path):
    registry.push("charts/web", "1.2.0", chart_archive())
    registry.tag_lists["charts/web"] = [f"0.0.{n}" for n in range(100_000)] + ["1.2.0"]
    with pytest.raises(SourceError, match=r"has more than 10000 tags; name an exact tag or digest, or raise max_tags"):
        _source(registry, tmp_path, "^1").fetch()
    started = time.monotonic()
    snapshot = _source(registry, tmp_path, "^1", max_tags=200_000).fetch()
    elapsed = time.monotonic() - started
    assert snapshot.revision.ref == "1.2.0"
    assert elapsed < 30, elapsed


def test_credentials_never_follow_a_redirect_to_another_host(registry, tmp_path):
    registry.auth = "basic"
    registry.push("charts/web", "1.2.0", chart_archive())
    with FakeRegistry(host="localhost") as storage:
        storage.blobs = registry.blobs
        registry.redirect_blobs_to = f"http://{storage.host}"
        snapshot = _source(registry, tmp_path, "1.2.0", username="ci", password="s3cret-pw").fetch()
        assert snapshot.path == "web"
        assert [auth for _, _, auth in storage.requests] == [None]
    assert all(auth for _, path, auth in registry.requests[1:] if path.startswith("/v2/charts"))


def test_manifests_that_are_indexes_or_have_no_single_readable_layer_are_refused(registry, tmp_path):
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
    registry.put_manifest("charts/web", "multi", index.encode())
    with pytest.raises(SourceError, match=r"is an index of several manifests"):
        _source(registry, tmp_path, "multi").fetch()
    registry.push("charts/web", "odd", b"x", layer_type="application/x-unknown")
    with pytest.raises(
        SourceError, match=r"exactly one layer of a readable type .* none of them among: application/x-unknown"
    ):
        _source(registry, tmp_path, "odd").fetch()


def test_references_and_urls_that_cannot_work_are_refused_at_construction():
    with pytest.raises(ConfigurationError, match=r"is not an OCI repository"):
        rc.OCISource("https://registry.example.com/charts/web")
    with pytest.raises(ConfigurationError, match=r"holds credentials"):
        rc.OCISource("oci://user:pw@registry.example.com/charts/web")
    with pytest.raises(ConfigurationError, match=r"names a tag or digest"):
        rc.OCISource("oci://registry.example.com/charts/web:1.2.0")
    with pytest.raises(ConfigurationError, match=r"not a sha256 digest"):
        rc.OCISource("oci://registry.example.com/charts/web", "sha256:abc")
    source = rc.OCISource("registry.example.com/charts/web", "1.2.0", password="hunter22-secret")
    assert source.url == "oci://registry.example.com/charts/web"
    assert "hunter22" not in repr(source)


def test_a_registry_that_is_down_is_retryable(tmp_path):
    with FakeRegistry() as gone:
        host = gone.host
    with pytest.raises(
        RepositoryUnreachableError, match=r"cannot reach 127.0.0.1:\d+ for the manifest 1.2.0"
    ) as caught:
        rc.OCISource(f"oci://{host}/charts/web", "1.2.0", plain_http=True, cache_dir=tmp_path).fetch()
    assert caught.value.retryable is True


def test_the_layer_digest_an_http_index_names_must_be_the_layer_pulled(registry, tmp_path):
    registry.push("charts/web", "1.2.0", chart_archive())
    other = digest_of(b"something else")
    with pytest.raises(SourceError, match=r"holds the layer sha256:[0-9a-f]{64}, but sha256:[0-9a-f]{64} was expected"):
        _source(registry, tmp_path, "1.2.0", expected_layer_digest=other).fetch()
    assert _blob_requests(registry) == []


def test_force_http_basic_auth_sends_the_credentials_without_waiting_for_a_challenge(registry, tmp_path):
    registry.auth = "basic"
    registry.push("charts/web", "1.2.0", chart_archive())
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "r", "labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
        "stringData": {"type": "helm", "url": registry.host, "username": "ci", "password": "s3cret-pw"},
    }
    _source(registry, tmp_path / "a", "1.2.0", credentials=Credentials.from_secrets([secret])).fetch()
    assert registry.requests[0][2] is None  # the first request waits for the challenge
    registry.requests.clear()
    secret["stringData"]["forceHttpBasicAuth"] = "true"
    _source(registry, tmp_path / "b", "1.2.0", credentials=Credentials.from_secrets([secret])).fetch()
    assert all(auth is not None and auth.startswith("Basic ") for _, _, auth in registry.requests)
