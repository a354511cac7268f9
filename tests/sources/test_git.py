from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pygit2  # only for the CredentialType flags libgit2 passes to the credentials callback
import pytest
import structlog
import structlog.testing

from reconcile.errors import (
    AuthenticationError,
    ConfigurationError,
    PathNotFoundError,
    RepositoryUnreachableError,
    RevisionNotFoundError,
    SourceError,
)
from reconcile.model import Snapshot
from reconcile.protocols import Source
from reconcile.sources import Credentials, GitSource
from reconcile.testing import LocalRepository
from reconcile.testing._gitserver import GitHTTPServer

USER, PASSWORD = "alice", "s3cret-pa55word"


@attrs.frozen
class Fixture:
    """A served repository: main has two commits, feature one more; v1 (annotated) and light tag the first."""

    repo: LocalRepository
    first: str
    second: str
    feature: str
    tag_object: str


def git(*args: str | os.PathLike[str]) -> str:
    done = subprocess.run(["git", *map(str, args)], capture_output=True, text=True, check=True, timeout=60)
    return done.stdout.strip()


@pytest.fixture
def srv_root(tmp_path: Path) -> Path:
    return tmp_path / "srv"


@pytest.fixture
def fx(srv_root: Path) -> Fixture:
    repo = LocalRepository.init(srv_root / "app.git")
    first = repo.commit(
        {
            "apps/web/deploy.yaml": "kind: Deployment\nmetadata: {name: web}\n",
            "base/kustomization.yaml": "resources: []\n",
            "README.md": "hello\n",
        },
        "first commit\n\nwith a body\n",
    )
    tag_object = repo.tag("v1", first, message="release 1")
    repo.tag("light", first)
    second = repo.commit({"apps/web/service.yaml": "kind: Service\n"}, "second commit")
    feature = repo.commit({"apps/web/feature.yaml": "kind: ConfigMap\n"}, "feature", branch="feature")
    return Fixture(repo=repo, first=first, second=second, feature=feature, tag_object=tag_object)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def server(srv_root: Path, fx: Fixture) -> Iterator[GitHTTPServer]:
    with GitHTTPServer(srv_root) as srv:
        yield srv


@pytest.fixture
def auth_server(srv_root: Path, fx: Fixture) -> Iterator[GitHTTPServer]:
    with GitHTTPServer(srv_root, username=USER, password=PASSWORD) as srv:
        yield srv


def upload_packs(server: GitHTTPServer) -> list[tuple[str, str]]:
    """The requests that download objects (ls-remote is only a GET of info/refs)."""
    return [r for r in server.requests if r[0] == "POST" and r[1].endswith("/git-upload-pack")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------------------ fetching


@pytest.mark.integration
def test_fetch_over_file_url_gives_the_commit_and_its_whole_tree(fx: Fixture, cache: Path) -> None:
    snap = GitSource(fx.repo.url, "main", "apps/web", cache_dir=cache).fetch()

    assert isinstance(snap, Snapshot)
    assert snap.revision.sha == fx.second
    assert snap.revision.ref == "main"
    assert snap.revision.message == "second commit"
    assert snap.path == "apps/web"
    assert snap.root == cache / GitSource(fx.repo.url, cache_dir=cache).cache_path.name / "checkouts" / fx.second
    assert sorted(p.name for p in snap.directory.iterdir()) == ["deploy.yaml", "service.yaml"]
    # The whole tree is there, so renderers can reach ../../base.
    assert (snap.directory / ".." / ".." / "base" / "kustomization.yaml").read_text() == "resources: []\n"
    assert (snap.root / "README.md").read_text() == "hello\n"


@pytest.mark.integration
def test_commit_message_is_stripped(fx: Fixture, cache: Path) -> None:
    snap = GitSource(fx.repo.url, fx.first, cache_dir=cache).fetch()

    assert snap.revision.message == "first commit\n\nwith a body"


@pytest.mark.integration
def test_plain_path_and_file_url_share_one_cache(fx: Fixture, cache: Path) -> None:
    by_path = GitSource(str(fx.repo.path), "main", cache_dir=cache)
    by_url = GitSource(fx.repo.url, "main", cache_dir=cache)

    assert by_path.cache_path == by_url.cache_path
    assert by_path.fetch().revision.sha == fx.second
    assert by_url.fetch().root == by_path.fetch().root
    assert [p.name for p in cache.iterdir()] == [by_path.cache_path.name]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        ("main", "second"),
        ("feature", "feature"),
        ("refs/heads/main", "second"),
        ("refs/heads/feature", "feature"),
        ("heads/feature", "feature"),
        ("HEAD", "second"),
        ("v1", "first"),
        ("refs/tags/v1", "first"),
        ("tags/v1", "first"),
        ("light", "first"),
        ("<first>", "first"),
        ("<FIRST>", "first"),
        ("<first:7>", "first"),
        ("<feature:10>", "feature"),
    ],
)
@pytest.mark.parametrize("transport", ["file", "path", "http"])
def test_every_revision_form(
    fx: Fixture, cache: Path, request: pytest.FixtureRequest, *, transport: str, revision: str, expected: str
) -> None:
    shas = {"first": fx.first, "second": fx.second, "feature": fx.feature}
    if revision.startswith("<"):
        name, _, length = revision.strip("<>").lower().partition(":")
        sha = shas[name][: int(length)] if length else shas[name]
        revision = sha.upper() if revision.isupper() else sha
    if transport == "http":
        url = request.getfixturevalue("server").url_for("app.git")
    else:
        url = fx.repo.url if transport == "file" else str(fx.repo.path)

    snap = GitSource(url, revision, cache_dir=cache).fetch()

    assert snap.revision.sha == shas[expected]
    assert snap.revision.ref == revision
    assert git("-C", fx.repo.path, "rev-parse", f"{revision}^{{commit}}") == shas[expected]


@pytest.mark.integration
def test_annotated_tag_is_peeled_to_its_commit(fx: Fixture, cache: Path, server: GitHTTPServer) -> None:
    snap = GitSource(server.url_for("app.git"), "v1", cache_dir=cache).fetch()

    assert git("-C", fx.repo.path, "cat-file", "-t", fx.tag_object) == "tag"
    assert fx.tag_object != fx.first
    assert snap.revision.sha == fx.first
    assert sorted(p.name for p in (snap.root / "apps" / "web").iterdir()) == ["deploy.yaml"]


@pytest.mark.integration
def test_head_is_the_remote_default_branch(fx: Fixture, cache: Path) -> None:
    fx.repo.set_head("feature")

    snap = GitSource(fx.repo.url, cache_dir=cache).fetch()

    assert snap.revision.sha == fx.feature
    assert snap.revision.ref == "HEAD"


@pytest.mark.integration
def test_ref_outside_heads_and_tags_is_fetched_too(fx: Fixture, cache: Path, server: GitHTTPServer) -> None:
    # Like a pull request ref: a commit no branch or tag reaches.
    orphan = fx.repo.commit({"pr.yaml": "x: 1\n"}, "pull request", branch="tmp")
    git("-C", fx.repo.path, "update-ref", "refs/pull/1/head", orphan)
    git("-C", fx.repo.path, "update-ref", "-d", "refs/heads/tmp")

    snap = GitSource(server.url_for("app.git"), "refs/pull/1/head", cache_dir=cache).fetch()

    assert snap.revision.sha == orphan
    assert (snap.root / "pr.yaml").read_text() == "x: 1\n"


# ------------------------------------------------------------------------------------------------ caching


@pytest.mark.integration
def test_unchanged_remote_makes_no_upload_pack_request(fx: Fixture, cache: Path, server: GitHTTPServer) -> None:
    source = GitSource(server.url_for("app.git"), "main", "apps/web", cache_dir=cache)
    first = source.fetch()
    assert len(upload_packs(server)) == 1
    server.requests.clear()

    again = source.fetch()

    assert again == first
    assert server.requests == [("GET", "/app.git/info/refs?service=git-upload-pack")]


@pytest.mark.integration
def test_branch_moving_forward_is_picked_up_without_a_new_clone(
    fx: Fixture, cache: Path, server: GitHTTPServer
) -> None:
    source = GitSource(server.url_for("app.git"), "main", "apps/web", cache_dir=cache)
    before = source.fetch()
    marker = source.cache_path / "repo.git" / "reconcile-test-marker"
    marker.write_text("still the same clone")
    newer = fx.repo.commit({"apps/web/deploy.yaml": "kind: Deployment\nmetadata: {name: web2}\n"}, "third")
    server.requests.clear()

    after = source.fetch()

    assert after.revision.sha == newer
    assert after.revision.message == "third"
    assert (after.directory / "deploy.yaml").read_text().endswith("{name: web2}\n")
    assert len(upload_packs(server)) == 1
    assert marker.read_text() == "still the same clone"  # fetched into the existing clone
    # The old checkout is untouched and still valid.
    assert before.root != after.root
    assert (before.directory / "deploy.yaml").read_text().endswith("{name: web}\n")
    assert sorted(p.name for p in (source.cache_path / "checkouts").iterdir()) == sorted([fx.second, newer])


@pytest.mark.integration
def test_known_full_sha_needs_no_network_at_all(fx: Fixture, cache: Path, server: GitHTTPServer) -> None:
    GitSource(server.url_for("app.git"), "main", cache_dir=cache).fetch()
    server.requests.clear()

    snap = GitSource(server.url_for("app.git"), fx.first, cache_dir=cache).fetch()

    assert snap.revision.sha == fx.first
    assert server.requests == []


@pytest.mark.integration
def test_known_short_sha_is_resolved_without_downloading(fx: Fixture, cache: Path, server: GitHTTPServer) -> None:
    GitSource(server.url_for("app.git"), "main", cache_dir=cache).fetch()
    server.requests.clear()

    snap = GitSource(server.url_for("app.git"), fx.first[:8], cache_dir=cache).fetch()

    assert snap.revision.sha == fx.first
    assert upload_packs(server) == []


@pytest.mark.integration
def test_unreadable_cache_is_cloned_again(fx: Fixture, cache: Path) -> None:
    source = GitSource(fx.repo.url, "main", cache_dir=cache)
    source.fetch()
    clone = source.cache_path / "repo.git"
    (clone / "reconcile-test-marker").write_text("old clone")
    (clone / "config").write_text("[[[ not a config")
    with pytest.raises(pygit2.GitError):
        pygit2.Repository(str(clone))

    snap = source.fetch()

    assert snap.revision.sha == fx.second
    assert not (clone / "reconcile-test-marker").exists()
    assert pygit2.Repository(str(clone)).get(fx.second) is not None


@pytest.mark.integration
def test_concurrent_fetches_share_one_cache(fx: Fixture, cache: Path, server: GitHTTPServer) -> None:
    url = server.url_for("app.git")
    expected = {"main": fx.second, "feature": fx.feature, "v1": fx.first, "HEAD": fx.second}
    barrier = threading.Barrier(2)

    def worker(revisions: list[str]) -> list[tuple[str, Snapshot]]:
        barrier.wait(timeout=10)  # both start together, on an empty cache
        return [(rev, GitSource(url, rev, "apps/web", cache_dir=cache).fetch()) for rev in revisions]

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(worker, list(expected) * 3), pool.submit(worker, list(reversed(expected)) * 3)]
        results = [item for future in futures for item in future.result(timeout=60)]

    assert len(results) == 24
    for revision, snap in results:
        assert snap.revision.sha == expected[revision]
        assert (snap.directory / "deploy.yaml").read_text().startswith("kind: Deployment")
    checkouts = sorted(
        p.name for p in (cache / GitSource(url, cache_dir=cache).cache_path.name / "checkouts").iterdir()
    )
    assert checkouts == sorted({fx.first, fx.second, fx.feature})
    assert len(upload_packs(server)) == 1  # the first clone brought every branch and tag


@pytest.mark.integration
def test_held_lock_makes_fetch_wait_then_give_up(fx: Fixture, cache: Path) -> None:
    source = GitSource(fx.repo.url, "main", cache_dir=cache, lock_timeout=0.2)
    source.cache_path.mkdir(parents=True)
    fd = os.open(source.cache_path / "lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(SourceError, match="held") as info:
            source.fetch()
    finally:
        os.close(fd)

    assert info.value.retryable is True
    assert source.fetch().revision.sha == fx.second  # free again


# ------------------------------------------------------------------------------------------------ checkout


@pytest.mark.integration
def test_symlinks_and_executable_bits_survive(fx: Fixture, cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "apps" / "web").mkdir(parents=True)
    (src / "shared").mkdir()
    (src / "shared" / "config.yaml").write_text("shared: true\n")
    (src / "apps" / "web" / "config.yaml").symlink_to("../../shared/config.yaml")
    (src / "apps" / "shared").symlink_to("../shared")
    script = src / "apps" / "web" / "build.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    sha = fx.repo.commit_directory(src, "with links")

    snap = GitSource(fx.repo.url, sha, "apps/web", cache_dir=cache).fetch()

    link = snap.directory / "config.yaml"
    assert link.is_symlink()
    assert link.readlink() == Path("../../shared/config.yaml")
    assert link.read_text() == "shared: true\n"
    assert (snap.root / "apps" / "shared").is_symlink()
    assert os.access(snap.directory / "build.sh", os.X_OK)
    assert not os.access(snap.directory / "deploy.yaml", os.X_OK)
    assert git("-C", fx.repo.path, "ls-tree", sha, "apps/web/config.yaml").startswith("120000 blob")


def test_submodules_are_skipped(cache: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    git("init", "-q", "-b", "main", work)
    (work / "app.yaml").write_text("kind: ConfigMap\n")
    git("-C", work, "add", "app.yaml")
    git("-C", work, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/lib")
    git("-C", work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "with submodule")

    snap = GitSource(str(work), "main", cache_dir=cache).fetch()

    assert (snap.root / "app.yaml").read_text() == "kind: ConfigMap\n"
    assert not (snap.root / "vendor" / "lib").exists()


@pytest.mark.integration
def test_path_through_a_symlinked_folder_is_accepted(fx: Fixture, cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "current").symlink_to("apps/web")
    sha = fx.repo.commit_directory(src, "alias")

    snap = GitSource(fx.repo.url, sha, "current", cache_dir=cache).fetch()

    assert (snap.directory / "deploy.yaml").is_file()


@pytest.mark.integration
def test_path_through_a_symlink_leaving_the_checkout_is_not_found(fx: Fixture, cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "escape").symlink_to("/etc")
    sha = fx.repo.commit_directory(src, "escape")

    with pytest.raises(PathNotFoundError):
        GitSource(fx.repo.url, sha, "escape", cache_dir=cache).fetch()


# ------------------------------------------------------------------------------------------------ errors


@pytest.mark.integration
def test_unknown_revision(fx: Fixture, cache: Path) -> None:
    with pytest.raises(RevisionNotFoundError) as info:
        GitSource(fx.repo.url, "no-such-branch", cache_dir=cache).fetch()

    assert "'no-such-branch'" in str(info.value)
    assert fx.repo.url in str(info.value)
    assert info.value.revision == "no-such-branch"
    assert info.value.url == fx.repo.url
    assert info.value.retryable is False


@pytest.mark.integration
@pytest.mark.parametrize("revision", ["0000000", "0" * 40, "deadbeef"])
def test_unknown_sha(fx: Fixture, cache: Path, revision: str) -> None:
    assert not any(s.startswith(revision) for s in (fx.first, fx.second, fx.feature, fx.tag_object))

    with pytest.raises(RevisionNotFoundError, match=revision):
        GitSource(fx.repo.url, revision, cache_dir=cache).fetch()


@pytest.mark.integration
def test_ambiguous_short_sha(fx: Fixture, cache: Path) -> None:
    prefix = fx.first[:4]
    # Find a blob whose id shares the commit's first four hex digits (about 65,000 tries).
    for n in range(2_000_000):
        content = f"collision {n}\n".encode()
        if hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest().startswith(prefix):  # noqa: S324
            break
    fx.repo.commit({"collide.txt": content}, "collide", branch="other")

    with pytest.raises(RevisionNotFoundError, match="ambiguous"):
        GitSource(fx.repo.url, prefix, cache_dir=cache).fetch()
    assert GitSource(fx.repo.url, fx.first[:12], cache_dir=cache).fetch().revision.sha == fx.first


@pytest.mark.integration
def test_empty_repository_has_no_head(srv_root: Path, cache: Path) -> None:
    empty = LocalRepository.init(srv_root / "empty.git")

    with pytest.raises(RevisionNotFoundError, match="'HEAD'"):
        GitSource(empty.url, cache_dir=cache).fetch()


@pytest.mark.integration
@pytest.mark.parametrize("path", ["apps/nothing", "README.md"])
def test_missing_path_names_path_and_short_sha(fx: Fixture, cache: Path, path: str) -> None:
    with pytest.raises(PathNotFoundError) as info:
        GitSource(fx.repo.url, "main", path, cache_dir=cache).fetch()

    assert f"'{path}'" in str(info.value)
    assert fx.second[:7] in str(info.value)
    assert info.value.path == path
    assert info.value.revision == "main"


@pytest.mark.integration
def test_path_exists_in_one_revision_only(fx: Fixture, cache: Path) -> None:
    url = fx.repo.url
    assert GitSource(url, "feature", "apps/web", cache_dir=cache).fetch().revision.sha == fx.feature
    fx.repo.commit({"apps": None}, "remove apps")

    with pytest.raises(PathNotFoundError):
        GitSource(url, "main", "apps/web", cache_dir=cache).fetch()


@pytest.mark.integration
@pytest.mark.parametrize("path", ["../elsewhere", "apps/../../elsewhere", "/etc", ".."])
def test_escaping_path_is_a_configuration_error(fx: Fixture, path: str) -> None:
    with pytest.raises(ConfigurationError, match="path"):
        GitSource(fx.repo.url, "main", path)


@pytest.mark.parametrize(
    ("path", "normalized"),
    [
        (".", "."),
        ("", "."),
        ("apps/web/", "apps/web"),
        ("./apps//web", "apps/web"),
        ("apps/x/../web", "apps/web"),
    ],
)
def test_path_is_normalized(path: str, normalized: str) -> None:
    assert GitSource("/srv/repo.git", "main", path).path == normalized


def test_unreachable_port_is_retryable(cache: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/app.git"

    with pytest.raises(RepositoryUnreachableError) as info:
        GitSource(url, "main", cache_dir=cache).fetch()

    assert info.value.retryable is True
    assert url in str(info.value)
    assert isinstance(info.value.__cause__, pygit2.GitError)


@pytest.mark.integration
def test_missing_repository_on_server_is_unreachable(server: GitHTTPServer, cache: Path) -> None:
    with pytest.raises(RepositoryUnreachableError, match="404") as info:
        GitSource(server.url_for("nope.git"), "main", cache_dir=cache).fetch()

    assert info.value.retryable is True


@pytest.mark.parametrize("make_url", [lambda p: str(p / "nope.git"), lambda p: (p / "nope.git").as_uri()])
def test_missing_local_repository_is_unreachable(tmp_path: Path, cache: Path, make_url: Callable[[Path], str]) -> None:
    url = make_url(tmp_path)

    with pytest.raises(RepositoryUnreachableError, match=r"nope\.git"):
        GitSource(url, cache_dir=cache).fetch()


def test_folder_that_is_not_a_repository_is_unreachable(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(RepositoryUnreachableError):
        GitSource(str(tmp_path), cache_dir=cache).fetch()


# ------------------------------------------------------------------------------------------------ credentials


@pytest.mark.integration
def test_basic_auth_with_username_and_password(fx: Fixture, cache: Path, auth_server: GitHTTPServer) -> None:
    source = GitSource(auth_server.url_for("app.git"), "main", cache_dir=cache, username=USER, password=PASSWORD)

    assert source.fetch().revision.sha == fx.second
    assert source.fetch().revision.sha == fx.second
    assert len(upload_packs(auth_server)) == 1


@pytest.mark.integration
def test_token_alone_is_sent_as_password(srv_root: Path, fx: Fixture, cache: Path) -> None:
    token = "ghp_0123456789abcdef"
    with GitHTTPServer(srv_root, username="git", password=token) as srv:
        source = GitSource(srv.url_for("app.git"), "main", cache_dir=cache, password=token)

        assert source.fetch().revision.sha == fx.second
        assert token not in repr(source)


@pytest.mark.integration
def test_wrong_password_gives_up_after_the_first_refusal(cache: Path, auth_server: GitHTTPServer) -> None:
    source = GitSource(auth_server.url_for("app.git"), cache_dir=cache, username=USER, password="wrong-password")

    with pytest.raises(AuthenticationError) as info:
        source.fetch()

    assert info.value.retryable is False
    assert "refused" in str(info.value)
    assert "wrong-password" not in str(info.value)
    assert "wrong-password" not in repr(source)
    assert info.value.url == auth_server.url_for("app.git")
    # Anonymous try, one try with the credentials, then stop: libgit2 alone would ask for ever.
    assert len(auth_server.requests) == 2


@pytest.mark.integration
def test_missing_credentials(cache: Path, auth_server: GitHTTPServer) -> None:
    with pytest.raises(AuthenticationError, match="requires credentials"):
        GitSource(auth_server.url_for("app.git"), cache_dir=cache).fetch()


@pytest.mark.integration
def test_credentials_in_the_url_are_used_and_never_shown(fx: Fixture, cache: Path, auth_server: GitHTTPServer) -> None:
    plain = auth_server.url_for("app.git")
    url = plain.replace("http://", f"http://{USER}:{PASSWORD}@")
    source = GitSource(url, "main", cache_dir=cache)

    with structlog.testing.capture_logs() as logs:
        assert source.fetch().revision.sha == fx.second
    assert [entry["event"] for entry in logs] == [
        "reconcile.git.ls_remote",
        "reconcile.git.fetched",
        "reconcile.git.checkout",
    ]
    assert all(entry["url"] == plain for entry in logs)
    assert PASSWORD not in repr(logs)
    assert source.url == plain
    assert PASSWORD not in repr(source)
    assert source.cache_path == GitSource(plain, cache_dir=cache).cache_path
    with pytest.raises(RevisionNotFoundError) as info:
        GitSource(url, "nope", cache_dir=cache).fetch()
    assert PASSWORD not in str(info.value)
    assert plain in str(info.value)


@pytest.mark.integration
def test_wrong_credentials_in_the_url_are_redacted(cache: Path, auth_server: GitHTTPServer) -> None:
    url = auth_server.url_for("app.git").replace("http://", f"http://{USER}:wrong%40pass@")
    source = GitSource(url, cache_dir=cache)

    with pytest.raises(AuthenticationError) as info:
        source.fetch()

    for text in (str(info.value), repr(source), info.value.url):
        assert "wrong" not in text
        assert "%40pass" not in text


@pytest.mark.integration
def test_a_token_in_the_query_string_is_never_shown(cache: Path, auth_server: GitHTTPServer) -> None:
    plain = auth_server.url_for("app.git")
    for url in (f"{plain}?access_token=query-token-1", f"{plain}?password=query-token-1&ref=x"):
        source = GitSource(url, "main", cache_dir=cache, password="given-token-2")
        with structlog.testing.capture_logs() as logs, pytest.raises(SourceError) as info:
            source.fetch()
        shown = (repr(source), source.url, str(info.value), info.value.url, repr(logs))
        for text in shown:
            assert "query-token-1" not in text
            assert "given-token-2" not in text
        assert source.url.startswith(f"{plain}?")
        assert "=***" in source.url


@pytest.mark.integration
def test_explicit_credentials_override_the_url(fx: Fixture, cache: Path, auth_server: GitHTTPServer) -> None:
    url = auth_server.url_for("app.git").replace("http://", "http://mallory:stale-token@")

    source = GitSource(url, "main", cache_dir=cache, username=USER, password=PASSWORD)

    assert source.fetch().revision.sha == fx.second


# ------------------------------------------------------------------------------------------------ SSH


@pytest.fixture
def key_files(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "id_test", tmp_path / "id_test.pub"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n(test)\n-----END OPENSSH PRIVATE KEY-----\n")
    public.write_text("ssh-ed25519 AAAA test\n")
    return private, public


def test_ssh_key_options_build_a_keypair(key_files: tuple[Path, Path]) -> None:
    private, public = key_files
    source = GitSource(
        "ssh://deploy@git.example.com/org/app.git",
        ssh_key=private,
        ssh_public_key=public,
        ssh_passphrase="phrase",
    )
    callbacks = source._callbacks()

    credential = callbacks.credentials(source.url, "deploy", pygit2.enums.CredentialType.SSH_KEY)

    assert credential.credential_type == pygit2.enums.CredentialType.SSH_KEY
    assert credential.credential_tuple == ("deploy", str(public), str(private), "phrase")
    with pytest.raises(AuthenticationError, match="refused"):
        callbacks.credentials(source.url, "deploy", pygit2.enums.CredentialType.SSH_KEY)


def test_ssh_without_key_uses_the_agent_and_names_the_user() -> None:
    source = GitSource("git@github.com:org/app.git")
    callbacks = source._callbacks()
    flags = pygit2.enums.CredentialType

    username = callbacks.credentials(source.url, None, flags.USERNAME)
    agent = callbacks.credentials(source.url, "git", flags.SSH_KEY | flags.USERPASS_PLAINTEXT)

    assert username.credential_tuple == ("git",)
    assert agent.credential_tuple == ("git", None, None, None)
    assert source.url == "git@github.com:org/app.git"


def test_ssh_key_without_public_key(key_files: tuple[Path, Path]) -> None:
    source = GitSource("ssh://git.example.com/app.git", ssh_key=key_files[0], username="ci")

    credential = source._callbacks().credentials(source.url, None, pygit2.enums.CredentialType.SSH_KEY)

    assert credential.credential_tuple == ("ci", None, str(key_files[0]), "")


def test_missing_ssh_key_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ssh_key"):
        GitSource("git@github.com:org/app.git", ssh_key=tmp_path / "missing")


def test_ssh_key_with_an_http_url_is_a_configuration_error(key_files: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigurationError, match="SSH"):
        GitSource("https://example.com/app.git", ssh_key=key_files[0])


def test_ssh_port_with_nothing_listening_is_unreachable(cache: Path, key_files: tuple[Path, Path]) -> None:
    source = GitSource(f"ssh://git@127.0.0.1:{free_port()}/app.git", cache_dir=cache, ssh_key=key_files[0])

    with pytest.raises(RepositoryUnreachableError) as info:
        source.fetch()

    assert info.value.retryable is True


# ------------------------------------------------------------------------------------------------ the object


@pytest.mark.integration
def test_is_a_source_with_a_safe_repr(fx: Fixture) -> None:
    source = GitSource(fx.repo.url, "main", "apps/web", password="hunter2-secret")

    assert isinstance(source, Source)
    assert repr(source) == f"GitSource(url={fx.repo.url!r}, revision='main', path='apps/web')"


@pytest.mark.integration
def test_logs_go_to_the_host_logger(fx: Fixture, cache: Path) -> None:
    captured = structlog.testing.CapturingLogger()
    logger = structlog.wrap_logger(
        captured, processors=[], wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG)
    )

    snap = GitSource(fx.repo.url, "main", cache_dir=cache, logger=logger).fetch()

    events = [(call.method_name, call.kwargs["event"], call.kwargs["url"]) for call in captured.calls]
    assert [event[1] for event in events] == [
        "reconcile.git.ls_remote",
        "reconcile.git.fetched",
        "reconcile.git.checkout",
    ]
    assert {event[2] for event in events} == {fx.repo.url}
    assert captured.calls[-1].kwargs["sha"] == snap.revision.sha


def test_default_cache_dir_is_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    source = GitSource("https://example.com/app.git")

    assert source.cache_dir == tmp_path / "xdg" / "reconcile" / "git"
    assert source.cache_path.parent == source.cache_dir


def test_cache_folder_depends_on_the_normalized_url(tmp_path: Path) -> None:
    def folder(url: str) -> str:
        return GitSource(url, cache_dir=tmp_path).cache_path.name

    assert folder("https://Example.com/org/app.git") == folder("https://example.com/org/app.git/")
    assert folder("https://tok@example.com/org/app.git") == folder("https://example.com/org/app.git")
    assert folder("https://example.com/org/app.git") != folder("https://example.com/org/other.git")
    assert folder("https://example.com/org/app.git") != folder("ssh://git@example.com/org/app.git")


@pytest.mark.parametrize("url", ["", "   ", "ftp://example.com/app.git", "https:///app.git", "file://host/x"])
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        GitSource(url)


def test_empty_revision_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="revision"):
        GitSource("https://example.com/app.git", " ")


# ------------------------------------------------------------------------------------------------ the writer


def test_commit_builds_on_the_branch_and_deletes(tmp_path: Path) -> None:
    repo = LocalRepository.init(tmp_path / "r.git")
    first = repo.commit({"a/b/c.txt": "c", "a/d.txt": b"\x00bin", "top.txt": "top"}, "one")
    second = repo.commit({"a/b": None, "new/e.txt": "e", "missing": None}, "two")

    assert len(second) == 40
    assert git("-C", repo.path, "rev-parse", "main") == second
    assert git("-C", repo.path, "rev-parse", "main~1") == first
    assert git("-C", repo.path, "ls-tree", "-r", "--name-only", "main").splitlines() == [
        "a/d.txt",
        "new/e.txt",
        "top.txt",
    ]
    assert git("-C", repo.path, "show", "main:top.txt") == "top"
    assert git("-C", repo.path, "log", "-1", "--format=%an <%ae>|%s", "main") == "reconcile <reconcile@localhost>|two"


def test_commit_to_another_branch_and_author(tmp_path: Path) -> None:
    repo = LocalRepository.init(tmp_path / "r.git", initial_branch="trunk")
    base = repo.commit({"x": "1"}, "base", branch="trunk")
    other = repo.commit({"y": "2"}, "other", branch="dev", author="Ada Lovelace <ada@example.com>")

    assert repo.resolve("HEAD") == base
    assert repo.resolve("dev") == other
    assert git("-C", repo.path, "log", "-1", "--format=%an|%ae", "dev") == "Ada Lovelace|ada@example.com"
    assert git("-C", repo.path, "rev-parse", "dev~1") == base  # a new branch starts from HEAD
    assert git("-C", repo.path, "ls-tree", "--name-only", "dev").splitlines() == ["x", "y"]


def test_deleting_everything_leaves_the_empty_tree(tmp_path: Path) -> None:
    repo = LocalRepository.init(tmp_path / "r.git")
    repo.commit({"a/b.txt": "b"}, "one")
    repo.commit({"a/b.txt": None}, "two")

    assert git("-C", repo.path, "ls-tree", "-r", "main") == ""


def test_commit_directory_under_a_prefix(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f.yaml").write_text("f: 1\n")
    (src / "g.yaml").write_text("g: 1\n")
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ignored")
    repo = LocalRepository.init(tmp_path / "r.git")
    repo.commit({"keep.txt": "kept"}, "one")

    sha = repo.commit_directory(src, "two", prefix="apps/web")

    assert git("-C", repo.path, "ls-tree", "-r", "--name-only", sha).splitlines() == [
        "apps/web/g.yaml",
        "apps/web/sub/f.yaml",
        "keep.txt",
    ]


def test_tags_annotated_and_lightweight(tmp_path: Path) -> None:
    repo = LocalRepository.init(tmp_path / "r.git")
    first = repo.commit({"a": "1"}, "one")
    second = repo.commit({"a": "2"}, "two")

    annotated = repo.tag("v1", first, message="version one")
    light = repo.tag("latest")

    assert git("-C", repo.path, "cat-file", "-t", annotated) == "tag"
    assert git("-C", repo.path, "rev-parse", "v1^{commit}") == first
    assert light == second
    assert git("-C", repo.path, "cat-file", "-t", "refs/tags/latest") == "commit"
    with pytest.raises(SourceError, match="v1"):
        repo.tag("v1", second, message="again")


def test_set_head_and_url(tmp_path: Path) -> None:
    repo = LocalRepository.init(tmp_path / "r.git")
    repo.commit({"a": "1"}, "one")
    dev = repo.commit({"a": "2"}, "two", branch="dev")

    repo.set_head("dev")

    assert git("-C", repo.path, "symbolic-ref", "HEAD") == "refs/heads/dev"
    assert repo.resolve() == dev
    assert repo.url == (tmp_path / "r.git").resolve().as_uri()
    assert repo.path == (tmp_path / "r.git").resolve()
    assert LocalRepository(repo.path).resolve("dev") == dev


def test_non_bare_work_tree_follows_commits(tmp_path: Path) -> None:
    repo = LocalRepository.init(tmp_path / "work", bare=False)
    repo.commit({"a.txt": "one"}, "one")
    repo.commit({"b/c.txt": "two"}, "two")

    assert repo.path == (tmp_path / "work").resolve()
    assert (repo.path / "a.txt").read_text() == "one"
    assert (repo.path / "b" / "c.txt").read_text() == "two"
    assert git("-C", repo.path, "status", "--porcelain") == ""


@pytest.mark.parametrize("path", ["../x", "/abs", "a/../../x", ".git/config", ""])
def test_writer_rejects_paths_outside_the_tree(tmp_path: Path, path: str) -> None:
    repo = LocalRepository.init(tmp_path / "r.git")

    with pytest.raises(ConfigurationError):
        repo.commit({path: "x"}, "bad")


def test_writer_rejects_file_and_folder_at_once(tmp_path: Path) -> None:
    repo = LocalRepository.init(tmp_path / "r.git")

    with pytest.raises(ConfigurationError, match="both a file and a folder"):
        repo.commit({"a": "file", "a/b": "nested"}, "bad")


@pytest.mark.parametrize("author", ["nobody", "<x@y>", "Name <>"])
def test_writer_rejects_bad_authors(tmp_path: Path, author: str) -> None:
    repo = LocalRepository.init(tmp_path / "r.git")

    with pytest.raises(ConfigurationError, match="author"):
        repo.commit({"a": "1"}, "bad", author=author)


def test_opening_a_missing_repository(tmp_path: Path) -> None:
    with pytest.raises(RepositoryUnreachableError):
        LocalRepository(tmp_path / "missing")


def test_resolving_an_unknown_revision(tmp_path: Path) -> None:
    repo = LocalRepository.init(tmp_path / "r.git")
    repo.commit({"a": "1"}, "one")

    with pytest.raises(RevisionNotFoundError, match="nope"):
        repo.resolve("nope")


@pytest.mark.integration
def test_repository_credentials_by_url_prefix_are_used_and_never_shown(fx: Fixture, cache: Path, auth_server) -> None:
    url = auth_server.url_for("app.git")
    template = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "local", "labels": {"argocd.argoproj.io/secret-type": "repo-creds"}},
        "stringData": {"url": auth_server.url + "/", "username": USER, "password": PASSWORD},
    }
    credentials = Credentials.from_secrets([template])
    assert GitSource(url, "main", cache_dir=cache, credentials=credentials).fetch().revision.sha == fx.second
    wrong = Credentials.from_secrets([{**template, "stringData": {**template["stringData"], "password": "nope-9"}}])
    with pytest.raises(AuthenticationError) as refused:
        GitSource(url, "main", cache_dir=cache, credentials=wrong).fetch()
    assert "nope-9" not in str(refused.value)
    # A source's own arguments win over the registry.
    explicit = GitSource(url, "main", cache_dir=cache, credentials=wrong, username=USER, password=PASSWORD)
    assert explicit.fetch().revision.sha == fx.second


@pytest.mark.integration  # the real git makes the CI-style clone (remote-tracking refs, a detached HEAD)
def test_a_checkout_is_read_in_place_at_any_revision_git_understands(tmp_path: Path) -> None:
    import subprocess

    from reconcile.errors import PathNotFoundError, RepositoryUnreachableError, RevisionNotFoundError
    from reconcile.sources import GitCheckoutSource

    origin = LocalRepository.init(tmp_path / "origin.git")
    first = origin.commit({"app/cm.yaml": "kind: ConfigMap\n"}, "first")
    second = origin.commit({"app/cm.yaml": "kind: ConfigMap\nmetadata: {name: two}\n"}, "second")
    clone = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", origin.url, str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "--detach", first], check=True)  # CI's detached HEAD
    cache = tmp_path / "cache"
    assert GitCheckoutSource(clone, "origin/main", "app", cache_dir=cache).fetch().revision.sha == second
    head = GitCheckoutSource(clone, "HEAD", "app", cache_dir=cache).fetch()
    assert head.revision.sha == first
    assert (head.directory / "cm.yaml").read_text() == "kind: ConfigMap\n"
    assert GitCheckoutSource(f"file://{clone}", "origin/main~1", cache_dir=cache).fetch().revision.sha == first
    assert GitCheckoutSource(clone, second[:8], cache_dir=cache).fetch().revision.sha == second
    with pytest.raises(RevisionNotFoundError, match=r"revision 'no-such-branch' is not in"):
        GitCheckoutSource(clone, "no-such-branch", cache_dir=cache).fetch()
    with pytest.raises(PathNotFoundError, match=r"path 'missing' is not a folder"):
        GitCheckoutSource(clone, "HEAD", "missing", cache_dir=cache).fetch()
    with pytest.raises(RepositoryUnreachableError, match=r"is not a Git repository"):
        GitCheckoutSource(tmp_path / "nothing-here", "HEAD", cache_dir=cache).fetch()
    status = subprocess.run(
        ["git", "-C", str(clone), "status", "--porcelain"], capture_output=True, text=True, check=True
    )
    assert status.stdout == ""  # the checkout itself was never written
