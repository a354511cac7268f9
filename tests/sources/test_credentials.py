"""Repository credentials from Argo CD's Secrets: reading, matching by URL, and never showing a secret."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import reconcile as rc
from reconcile.manifests import load_manifests
from reconcile.sources import Credentials, RepositoryCredential

REPOSITORY = """\
apiVersion: v1
kind: Secret
metadata:
  name: private-repo
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  type: git
  url: https://git.example.com/team/app.git
  username: ci
  password: repo-token-1
"""

TEMPLATE = """\
apiVersion: v1
kind: Secret
metadata:
  name: team-creds
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repo-creds
data:
  url: {url}
  username: {user}
  password: {password}
"""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _write(tmp_path: Path, *documents: str) -> Path:
    file = tmp_path / "creds.yaml"
    file.write_text("---\n".join(documents))
    return file


@pytest.fixture
def credentials(tmp_path: Path) -> Credentials:
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-a-secret}\n"
    unlabelled = "apiVersion: v1\nkind: Secret\nmetadata: {name: plain}\nstringData: {url: https://x}\n"
    team = TEMPLATE.format(url=_b64("https://git.example.com/team/"), user=_b64("bot"), password=_b64("team-token-2"))
    wide = TEMPLATE.format(url=_b64("https://git.example.com/"), user=_b64("any"), password=_b64("wide-token-3"))
    return Credentials.from_file(_write(tmp_path, REPOSITORY, other, team, unlabelled, wide))


def test_a_repository_secret_matches_its_url_and_templates_match_by_the_longest_prefix(credentials):
    assert len(credentials) == 3
    exact = credentials.for_url("https://GIT.example.com/team/app/")  # case, .git and a slash do not matter
    assert exact is not None
    assert (exact.username, exact.password, exact.prefix) == ("ci", "repo-token-1", False)
    team = credentials.for_url("https://git.example.com/team/other.git")
    assert team is not None
    assert (team.username, team.password, team.prefix) == ("bot", "team-token-2", True)
    wide = credentials.for_url("https://git.example.com/platform/x.git")
    assert wide is not None
    assert wide.username == "any"
    assert credentials.for_url("https://elsewhere.example.com/x.git") is None


def test_no_secret_value_is_shown(credentials, tmp_path):
    shown = repr(credentials) + repr(list(credentials.entries))
    for secret in ("repo-token-1", "team-token-2", "wide-token-3"):
        assert secret not in shown
    entry = RepositoryCredential(url="https://ci:in-url-4@git.example.com/x.git", password="p-5", ssh_private_key="k-6")
    assert "in-url-4" not in repr(entry)
    assert "p-5" not in repr(entry)
    assert "k-6" not in repr(entry)
    assert set(entry.secrets) == {"p-5", "k-6"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("  githubAppID: '1'\n", r"creds.yaml:1: repository credential keys not supported yet: githubAppID"),
        ("  colour: blue\n", r"creds.yaml:1: unknown repository credential keys colour"),
        ("  insecure: maybe\n", r"creds.yaml:1: insecure must be true or false"),
    ],
)
def test_a_malformed_secret_names_its_file_and_line(tmp_path, extra, message):
    with pytest.raises(rc.ConfigurationError, match=message):
        Credentials.from_file(_write(tmp_path, REPOSITORY.replace("  password: repo-token-1\n", extra)))
    svn = REPOSITORY.replace("  type: git\n", "  type: svn\n")
    with pytest.raises(rc.ConfigurationError, match=r"creds.yaml:1: type must be git or helm, not 'svn'"):
        Credentials.from_file(_write(tmp_path, svn))


def test_data_that_is_not_base64_and_a_missing_url_are_refused(tmp_path):
    bad = TEMPLATE.format(url="'%%%%'", user=_b64("u"), password=_b64("p"))
    with pytest.raises(rc.ConfigurationError, match=r"data.url is not base64"):
        Credentials.from_file(_write(tmp_path, bad))
    with pytest.raises(rc.ConfigurationError, match=r"needs a url"):
        Credentials.from_file(_write(tmp_path, REPOSITORY.replace("  url: https://git.example.com/team/app.git\n", "")))
    with pytest.raises(rc.ConfigurationError, match=r"cannot read repository credentials"):
        Credentials.from_file(tmp_path / "missing.yaml")


def test_settings_a_source_cannot_honour_are_refused_not_ignored(tmp_path):
    certificate = "  password: repo-token-1\n  tlsClientCertData: cert\n  tlsClientCertKey: key\n"
    with_cert = REPOSITORY.replace("  password: repo-token-1\n", certificate)
    credentials = Credentials.from_file(_write(tmp_path, with_cert))
    with pytest.raises(
        rc.ConfigurationError,
        match=r"creds.yaml:1 sets tlsClientCertData, tlsClientCertKey, which this source does not apply",
    ):
        rc.GitSource("https://git.example.com/team/app.git", credentials=credentials)
    oci = REPOSITORY.replace("  password: repo-token-1\n", "  password: repo-token-1\n  insecureOCIForceHttp: 'true'\n")
    with pytest.raises(rc.ConfigurationError, match=r"sets insecureOCIForceHttp, which this source does not apply"):
        rc.GitSource("https://git.example.com/team/app.git", credentials=Credentials.from_file(_write(tmp_path, oci)))


def test_credentials_are_read_from_a_namespace_of_a_cluster():
    cluster = rc.MemoryCluster()
    cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}})
    for document in (REPOSITORY,):
        obj = load_manifests(document, file="x")[0][0]
        cluster.apply(obj)
    found = Credentials.from_cluster(cluster).for_url("https://git.example.com/team/app.git")
    assert found is not None
    assert found.origin == "argocd/private-repo"
    assert found.password == "repo-token-1"
