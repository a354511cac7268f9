"""OCI charts and artifacts from a real registry (Debian's docker-registry), pushed by the real helm.

The registry runs three ways: plain HTTP (a localhost registry, spoken to only when asked), htpasswd
authentication, and TLS from a test CA that accepts only clients with a certificate from it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import reconcile as rc
from oci_fakes import tarball
from reconcile.errors import AuthenticationError, RepositoryUnreachableError
from reconcile.sources import ChartDependencies, Credentials, DirectorySource, HelmRepositorySource
from reconcile.testing import ChartRepositoryServer, OCIRegistry, write_chart

pytestmark = pytest.mark.integration  # a real registry process, charts packaged and pushed by the real helm

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
data:
  version: {{ .Chart.Version | quote }}
  color: {{ .Values.color | default "none" | quote }}
"""
USER, PASSWORD = "ci", "registry-pw-7"


def _package(tmp_path: Path, helm: str, name: str, version: str) -> Path:
    chart = write_chart(tmp_path / "src" / f"{name}-{version}", name, version, {"templates/settings.yaml": SETTINGS})
    out = tmp_path / "packages"
    subprocess.run([helm, "package", str(chart), "--destination", str(out)], check=True, capture_output=True)
    return out / f"{name}-{version}.tgz"


def _push(helm: str, archive: Path, registry: OCIRegistry, *extra: str) -> str:
    """``helm push`` the archive to ``oci://<registry>/charts``; return the digest helm reports."""
    transport = ["--plain-http"] if not registry.tls else ["--ca-file", str(registry.ca_file)]
    if registry.client_certificates:
        transport += ["--cert-file", str(registry.client_cert_file), "--key-file", str(registry.client_key_file)]
    command = [helm, "push", str(archive), f"oci://{registry.host}/charts", *transport, *extra]
    pushed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert pushed.returncode == 0, pushed.stderr
    found = re.search(r"Digest: (sha256:[0-9a-f]{64})", pushed.stdout + pushed.stderr)
    assert found is not None, pushed.stdout + pushed.stderr
    return found.group(1)


def _render(snapshot: rc.Snapshot, helm: str, values: dict[str, object] | None = None) -> dict[str, dict[str, str]]:
    renderer = rc.HelmRenderer(release_name="r", namespace="default", helm=helm, values=values or {})
    return {r.key.name: dict(r.manifest["data"]) for r in renderer.render(snapshot)}


def _creds(host: str, **data: str) -> Credentials:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "registry", "labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
        "stringData": {"type": "helm", "url": host, "enableOCI": "true", **data},
    }
    return Credentials.from_secrets([secret])


@pytest.fixture
def registry(tmp_path):
    with OCIRegistry(tmp_path / "registry") as server:
        yield server


def test_a_chart_pushed_by_helm_is_pulled_by_tag_range_and_digest_and_reported_by_the_registrys_digest(
    registry, tmp_path, helm_binary
):
    for version in ("1.0.0", "1.2.0", "2.0.0-rc.1"):
        _push(helm_binary, _package(tmp_path, helm_binary, "web", version), registry)
    url = f"oci://{registry.host}/charts/web"
    exact = rc.OCISource(url, "1.0.0", plain_http=True, cache_dir=tmp_path / "cache").fetch()
    assert f"sha256:{exact.revision.sha}" == registry.manifest_digest("charts/web", "1.0.0")
    assert _render(exact, helm_binary)["r-web"]["version"] == "1.0.0"
    ranged = rc.OCISource(url, "^1", plain_http=True, cache_dir=tmp_path / "cache").fetch()
    assert ranged.revision.ref == "1.2.0"
    digest = registry.manifest_digest("charts/web", "1.2.0")
    pinned = rc.OCISource(url, digest, plain_http=True, cache_dir=tmp_path / "cache")
    assert pinned.fetch().revision.sha == ranged.revision.sha
    assert pinned.requests_made == []  # cached by digest: the registry is not asked


def test_a_registry_with_htpasswd_takes_credentials_by_url_and_never_shows_them(tmp_path, helm_binary):
    with OCIRegistry(tmp_path / "registry", username=USER, password=PASSWORD) as registry:
        _push(
            helm_binary,
            _package(tmp_path, helm_binary, "web", "1.2.0"),
            registry,
            "--username",
            USER,
            "--password",
            PASSWORD,
        )
        url = f"{registry.host}/charts/web"  # Argo CD's form: no scheme
        with pytest.raises(AuthenticationError, match=r"requires credentials .* and none were given"):
            rc.OCISource(url, "1.2.0", plain_http=True, cache_dir=tmp_path / "a").fetch()
        wrong = _creds(registry.host, username=USER, password="not-the-pw-1", insecureOCIForceHttp="true")
        with pytest.raises(AuthenticationError, match=r"refused the credentials") as refused:
            rc.OCISource(url, "1.2.0", credentials=wrong, cache_dir=tmp_path / "b").fetch()
        assert "not-the-pw-1" not in str(refused.value)
        good = _creds(registry.host, username=USER, password=PASSWORD, insecureOCIForceHttp="true")
        snapshot = rc.OCISource(url, "1.2.0", credentials=good, cache_dir=tmp_path / "c").fetch()
        assert _render(snapshot, helm_binary)["r-web"]["version"] == "1.2.0"
        assert PASSWORD not in repr(good)
        assert PASSWORD not in repr(snapshot)


def test_a_tls_registry_needs_its_ca_and_a_client_certificate(tmp_path, helm_binary):
    with OCIRegistry(tmp_path / "registry", tls=True, client_certificates=True) as registry:
        _push(helm_binary, _package(tmp_path, helm_binary, "web", "1.2.0"), registry)
        url = f"oci://{registry.host}/charts/web"
        with pytest.raises(RepositoryUnreachableError, match=r"TLS with 127.0.0.1:\d+ failed") as untrusted:
            rc.OCISource(url, "1.2.0", cache_dir=tmp_path / "a").fetch()
        assert untrusted.value.retryable is False
        with pytest.raises(RepositoryUnreachableError):  # trusted, but no client certificate
            rc.OCISource(url, "1.2.0", ca_file=registry.ca_file, cache_dir=tmp_path / "b").fetch()
        key = registry.client_key_file.read_text()
        credentials = _creds(
            registry.host, tlsClientCertData=registry.client_cert_file.read_text(), tlsClientCertKey=key
        )
        trusted = Credentials(credentials.entries, tls_certs={"127.0.0.1": registry.ca_file.read_text()})
        snapshot = rc.OCISource(url, "1.2.0", credentials=trusted, cache_dir=tmp_path / "c").fetch()
        assert f"sha256:{snapshot.revision.sha}" == registry.manifest_digest("charts/web", "1.2.0")
        assert key not in repr(trusted)
        insecure = _creds(
            registry.host,
            tlsClientCertData=registry.client_cert_file.read_text(),
            tlsClientCertKey=key,
            insecure="true",
        )
        skipped = rc.OCISource(url, "1.2.0", credentials=insecure, cache_dir=tmp_path / "d").fetch()
        assert skipped.revision.sha == snapshot.revision.sha


def test_plain_manifests_pushed_as_an_artifact_are_a_snapshot(registry, tmp_path):
    layer = tarball({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-oci\n"})
    digest = registry.push_artifact("manifests/web", "v1", layer)
    url = f"oci://{registry.host}/manifests/web"
    snapshot = rc.OCISource(url, "v1", "app", plain_http=True, cache_dir=tmp_path).fetch()
    resources = rc.DirectoryRenderer().render(snapshot)
    assert [r.key.name for r in resources] == ["from-oci"]
    assert f"sha256:{snapshot.revision.sha}" == digest


def test_a_dependency_in_an_oci_registry_is_fetched_at_the_source_stage(registry, tmp_path, helm_binary):
    _push(helm_binary, _package(tmp_path, helm_binary, "db", "3.1.0"), registry)
    _push(helm_binary, _package(tmp_path, helm_binary, "db", "3.2.0"), registry)
    chart = write_chart(tmp_path / "app", "app", "1.0.0", {"templates/settings.yaml": SETTINGS})
    text = (chart / "Chart.yaml").read_text()
    repository = f"oci://{registry.host}/charts"
    (chart / "Chart.yaml").write_text(
        text + f"dependencies:\n  - name: db\n    version: '^3.0.0'\n    repository: {repository}\n"
    )
    credentials = _creds(registry.host, insecureOCIForceHttp="true")
    source = ChartDependencies(DirectorySource(chart), credentials=credentials, cache_dir=tmp_path / "deps")
    rendered = _render(source.fetch(), helm_binary)
    assert {name: data["version"] for name, data in rendered.items()} == {"r-app": "1.0.0", "r-db": "3.2.0"}


def test_an_http_index_that_points_at_oci_urls_is_followed_and_its_digest_checked(registry, tmp_path, helm_binary):
    archive = _package(tmp_path, helm_binary, "web", "1.2.0")
    _push(helm_binary, archive, registry)
    layer_digest = _digest(archive.read_bytes())
    index = {
        "apiVersion": "v1",
        "entries": {
            "web": [
                {
                    "name": "web",
                    "version": "1.2.0",
                    "urls": [f"oci://{registry.host}/charts/web"],
                    "digest": layer_digest.removeprefix("sha256:"),
                }
            ]
        },
    }
    root = tmp_path / "index"
    root.mkdir()
    (root / "index.yaml").write_text(json.dumps(index))
    credentials = _creds(registry.host, insecureOCIForceHttp="true")
    with ChartRepositoryServer(root) as server:
        source = HelmRepositorySource(server.url, "web", "1.2.0", credentials=credentials, cache_dir=tmp_path / "c")
        snapshot = source.fetch()
        assert snapshot.revision.ref == "1.2.0"
        assert f"sha256:{snapshot.revision.sha}" == registry.manifest_digest("charts/web", "1.2.0")
        assert _render(snapshot, helm_binary)["r-web"]["version"] == "1.2.0"
        index["entries"]["web"][0]["digest"] = "0" * 64
        (root / "index.yaml").write_text(json.dumps(index))
        shutil.rmtree(tmp_path / "c")
        with pytest.raises(rc.errors.SourceError, match=r"but sha256:0{64} was expected"):
            HelmRepositorySource(server.url, "web", "1.2.0", credentials=credentials, cache_dir=tmp_path / "c").fetch()


@pytest.mark.parametrize("form", ["no-scheme", "oci-chart", "oci-path"])
def test_an_application_with_an_oci_chart_reconciles_against_the_real_control_plane(  # noqa: PLR0917 - fixtures
    registry, tmp_path, helm_binary, monkeypatch, kube_cluster, kube_namespace, form
):
    monkeypatch.setenv("PATH", f"{Path(helm_binary).parent}:/usr/bin:/bin")
    _push(helm_binary, _package(tmp_path, helm_binary, "web", "1.2.0"), registry)
    source = {
        "no-scheme": {"repoURL": f"{registry.host}/charts", "chart": "web", "targetRevision": "1.x"},
        "oci-chart": {"repoURL": f"oci://{registry.host}/charts", "chart": "web", "targetRevision": "1.2.0"},
        "oci-path": {"repoURL": f"oci://{registry.host}/charts/web", "path": ".", "targetRevision": "1.2.0"},
    }[form]
    source["helm"] = {"valuesObject": {"color": "teal"}}
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "oci-web", "namespace": "argocd"},
        "spec": {
            "source": source,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": kube_namespace},
        },
    }
    credentials = _creds(registry.host, insecureOCIForceHttp="true")
    reconciler = rc.Application.from_manifest(
        manifest, {"in-cluster": kube_cluster}, cache_dir=tmp_path / "cache", credentials=credentials
    )
    result = reconciler.sync()
    assert result.succeeded, result
    assert result.revision is not None
    assert f"sha256:{result.revision.sha}" == registry.manifest_digest("charts/web", "1.2.0")
    live = kube_cluster.get(rc.ResourceKey("", "ConfigMap", kube_namespace, "oci-web-web"))
    assert live is not None
    assert live["data"] == {"version": "1.2.0", "color": "teal"}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
