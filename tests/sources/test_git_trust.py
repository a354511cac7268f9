"""Trusting a Git server: SSH keys as text (Argo CD's sshPrivateKey), host keys, HTTPS certificates, insecure."""

from __future__ import annotations

import pygit2
import pytest

from reconcile.errors import AuthenticationError, ConfigurationError, RepositoryUnreachableError
from reconcile.sources import Credentials, GitSource
from reconcile.testing import GitHTTPServer, LocalRepository
from ssh_server import SSHGitServer

pytestmark = pytest.mark.integration  # a real SSH server and git-upload-pack


@pytest.fixture
def served(tmp_path):
    repository = LocalRepository.init(tmp_path / "srv" / "apps.git")
    repository.commit({"web/cm.yaml": "kind: ConfigMap\n"}, "web")
    with SSHGitServer(tmp_path / "srv") as server:
        yield server


@pytest.fixture
def known_hosts(tmp_path):
    """libgit2 reads ``<home>/.ssh/known_hosts``; point its home at a folder of this test's, then back."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    before = pygit2.settings.homedir
    pygit2.settings.homedir = str(home)
    yield home / ".ssh" / "known_hosts"
    pygit2.settings.homedir = before


def _creds(url: str, key: str, **extra: str) -> Credentials:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "git-ssh", "labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
        "stringData": {"url": url, "sshPrivateKey": key, **extra},
    }
    return Credentials.from_secrets([secret])


def test_an_ssh_key_from_a_repo_creds_secret_clones_from_a_known_host(served, known_hosts, tmp_path):
    known_hosts.write_text(served.known_hosts_line())
    credentials = _creds(f"ssh://git@127.0.0.1:{served.port}/", served.client_key_pem)
    source = GitSource(served.url("apps.git"), "main", "web", credentials=credentials, cache_dir=tmp_path / "c")
    snapshot = source.fetch()
    assert (snapshot.directory / "cm.yaml").is_file()
    assert served.commands == ["git-upload-pack '/apps.git'"]
    assert "PRIVATE KEY" not in repr(source) + repr(credentials)


def test_an_unknown_host_key_is_refused_unless_insecure(served, known_hosts, tmp_path):
    known_hosts.write_text("")
    credentials = _creds(f"ssh://git@127.0.0.1:{served.port}/", served.client_key_pem)
    with pytest.raises(
        RepositoryUnreachableError, match=r"the SSH host key of 127.0.0.1 is not in known_hosts"
    ) as caught:
        GitSource(served.url("apps.git"), "main", "web", credentials=credentials, cache_dir=tmp_path / "a").fetch()
    assert caught.value.retryable is False
    assert served.commands == []  # nothing was asked of a server we do not trust
    insecure = _creds(f"ssh://git@127.0.0.1:{served.port}/", served.client_key_pem, insecure="true")
    snapshot = GitSource(served.url("apps.git"), "main", "web", credentials=insecure, cache_dir=tmp_path / "b").fetch()
    assert (snapshot.directory / "cm.yaml").is_file()


def test_a_key_the_server_does_not_accept_is_an_authentication_error_that_shows_no_key(served, known_hosts, tmp_path):
    known_hosts.write_text(served.known_hosts_line())
    import asyncssh

    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    source = GitSource(served.url("apps.git"), "main", ssh_key_data=other, cache_dir=tmp_path / "c")
    with pytest.raises(AuthenticationError) as caught:
        source.fetch()
    assert other.splitlines()[1] not in str(caught.value)


def test_an_ssh_key_for_an_https_url_is_refused():
    credentials = _creds("https://git.example.com/", "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n")
    with pytest.raises(ConfigurationError, match=r"sets sshPrivateKey, which only SSH URLs use"):
        GitSource("https://git.example.com/org/app.git", credentials=credentials)


def test_an_https_server_whose_certificate_does_not_verify_is_refused_unless_insecure(tmp_path):
    repository = LocalRepository.init(tmp_path / "srv" / "apps.git")
    repository.commit({"web/cm.yaml": "kind: ConfigMap\n"}, "web")
    with GitHTTPServer(tmp_path / "srv", tls=True) as server:
        url = server.url_for("apps.git")
        assert url.startswith("https://")
        with pytest.raises(RepositoryUnreachableError, match=r"the TLS certificate of 127.0.0.1 does not verify"):
            GitSource(url, "main", "web", cache_dir=tmp_path / "a").fetch()
        snapshot = GitSource(url, "main", "web", insecure=True, cache_dir=tmp_path / "b").fetch()
        assert (snapshot.directory / "cm.yaml").is_file()
