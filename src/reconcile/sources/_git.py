"""Git repositories as a :class:`~reconcile.protocols.Source`.

This module reads repositories with pygit2 (``reconcile.testing.LocalRepository`` is the other user, and writes);
every ``pygit2.GitError`` is turned into a :class:`~reconcile.errors.SourceError` here.

:class:`GitSource` works like Argo CD's repo server: it keeps one bare clone per repository URL in a cache
folder, lists the remote's references first (``git ls-remote``), and fetches only when the wanted commit is
not in the cache yet. The commit's whole tree is extracted once to ``checkouts/<sha>/`` and reused, so a
second :meth:`GitSource.fetch` of an unchanged branch costs one reference listing and no download::

    <cache_dir>/<hash of the URL>/
        lock            an fcntl lock: one writer per repository at a time, across threads and processes
        repo.git/       bare clone (refs/heads/* and refs/tags/* mirrored)
        checkouts/<sha>/  one extracted tree per commit, never modified once written

"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import attrs
import pygit2
import structlog
from pygit2.enums import CredentialType, FileMode

from reconcile.errors import (
    AuthenticationError,
    ConfigurationError,
    PathNotFoundError,
    RepositoryUnreachableError,
    RevisionNotFoundError,
    SourceError,
)
from reconcile.model import Revision, Snapshot
from reconcile.redaction import query_secrets, redact_text, redact_url
from reconcile.sources._cache import cache_folder, locked, publish
from reconcile.sources._credentials import Credentials

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

__all__ = ["GitCheckoutSource", "GitSource"]

_FULL_SHA = re.compile(r"[0-9a-fA-F]{40}")
_SHORT_SHA = re.compile(r"[0-9a-fA-F]{4,39}")  # libgit2's shortest prefix is 4
# git's rule: without "://", a colon before the first slash makes ``[user@]host:path`` an scp-like address.
_SCP_LIKE = re.compile(r"(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>.*)")
_FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_MIRRORED = ("refs/heads/", "refs/tags/")
_SIGNATURE = re.compile(r"\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>\s*")
# Shorter secrets are not searched for: replacing every "ab" would mangle messages and protect nothing.
_MIN_SECRET = 4

_Credential = pygit2.Username | pygit2.UserPass | pygit2.Keypair
_GIT_SETTINGS = frozenset({"sshPrivateKey", "insecure"})
_E = TypeVar("_E", bound=SourceError)


def _logger() -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger("reconcile")
    return logger


# ----------------------------------------------------------------------------------------------------- URLs


@attrs.frozen(kw_only=True)
class _Url:
    """A repository address split into what libgit2 gets, what people see, and the cache key.

    Attributes:
        remote: Passed to libgit2: never holds a password (credentials go through the callback).
        display: For messages, logs and repr: no password; for HTTP no user name either (it may be a token).
        key: Normalized, credential-free; its hash names the cache folder.
        kind: ``local``, ``http``, ``ssh`` or ``git``.
        username: The user name found in the URL, if any.
        password: The password or token found in the URL, if any.
    """

    remote: str
    display: str
    key: str
    kind: str
    username: str | None = None
    password: str | None = None


def _parse_url(url: str) -> _Url:
    """Split ``url`` (file://, plain path, http(s)://, ssh://, scp-like, git://) into a :class:`_Url`."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError.argument("GitSource(url)", "a repository URL", url)
    url = url.strip()
    if "://" not in url:
        scp = _SCP_LIKE.fullmatch(url)
        if scp and "/" not in url.split(":", 1)[0]:
            host = scp["host"].lower()
            user = f"{scp['user']}@" if scp["user"] else ""
            return _Url(
                remote=url,
                display=url,
                key=f"ssh://{user}{host}/{scp['path'].strip('/')}",
                kind="ssh",
                username=scp["user"],
            )
        local = os.path.normpath(Path(url).expanduser().absolute())
        return _Url(remote=local, display=local, key=f"file://{local}", kind="local")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ConfigurationError(
                f"file URLs must name a local path, not host {parts.hostname!r}: {redact_url(url)}"
            )
        local = os.path.normpath(unquote(parts.path))
        if not Path(local).is_absolute():
            raise ConfigurationError(f"file URL must hold an absolute path: {url}")
        return _Url(remote=local, display=f"file://{local}", key=f"file://{local}", kind="local")
    if scheme not in ("http", "https", "ssh", "git"):
        raise ConfigurationError(
            f"unsupported repository URL scheme {scheme!r}; use file://, http(s)://, ssh:// or git://"
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise ConfigurationError(f"repository URL has no host: {redact_url(url)}")
    hostport = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        hostport = f"{hostport}:{parts.port}"
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    path = parts.path
    key = urlunsplit((scheme, hostport, path.rstrip("/"), parts.query, ""))
    if scheme in ("http", "https"):
        clean = urlunsplit((scheme, hostport, path, parts.query, ""))
        return _Url(remote=clean, display=redact_url(clean), key=key, kind="http", username=username, password=password)
    user = f"{quote(username, safe='')}@" if username else ""
    clean = urlunsplit((scheme, f"{user}{hostport}", path, parts.query, ""))
    return _Url(
        remote=clean,
        display=redact_url(clean),
        key=key,
        kind="ssh" if scheme == "ssh" else "git",
        username=username,
        password=password,
    )


def _normalize_path(path: str) -> str:
    """``path`` as a clean relative POSIX path (``"."`` for the root); rejects absolute and escaping paths."""
    raw = str(path).replace("\\", "/")
    if raw.startswith("/"):
        raise ConfigurationError(f"path must be relative to the repository root, got {path!r}")
    normalized = posixpath.normpath(raw or ".")
    if normalized == ".." or normalized.startswith("../"):
        raise ConfigurationError(f"path must stay inside the repository, got {path!r}")
    return normalized


# ----------------------------------------------------------------------------------------------- the source


class _Callbacks(pygit2.RemoteCallbacks):
    """Answers libgit2's credential requests, each kind once.

    libgit2 asks again, forever, when the server refuses what it got; a second request of the same kind
    therefore means "refused" and ends the operation with an :class:`AuthenticationError`.
    """

    def __init__(self, source: GitSource) -> None:
        super().__init__()
        self._source = source
        self._given: set[int] = set()

    def credentials(self, url: str, username_from_url: str | None, allowed_types: CredentialType) -> _Credential:
        """Return the configured credential for ``allowed_types``; raise when it was refused or is missing."""
        credential = self._source._credential(username_from_url, CredentialType(allowed_types))
        kind = int(credential.credential_type)
        if kind in self._given:
            raise self._source._error(AuthenticationError, f"{self._source.url} refused the credentials")
        self._given.add(kind)
        return credential

    def certificate_check(self, certificate: None, valid: bool, host: bytes) -> bool:
        """Accept the server when libgit2 verified it (known_hosts, or a TLS chain), or when told not to check.

        libgit2 itself would let an SSH server with an unknown host key through; Argo CD refuses it unless the
        repository is ``insecure``, and so does this.
        """
        if valid or self._source._insecure:
            return True
        name = host.decode("utf-8", "replace")
        what = (
            f"the SSH host key of {name} is not in known_hosts (~/.ssh/known_hosts)"
            if self._source._url.kind == "ssh"
            else f"the TLS certificate of {name} does not verify"
        )
        raise self._source._error(
            RepositoryUnreachableError, f"{self._source.url}: {what}; trust it, or set insecure", retryable=False
        )


class GitSource:
    """A Git repository at a revision, fetched into a local cache: the :class:`~reconcile.protocols.Source`.

    Args:
        url: ``https://host/org/repo.git`` (smart HTTP), ``ssh://git@host/repo.git`` or ``git@host:repo.git``,
            ``file:///srv/repo.git`` or a plain local path. Credentials in an HTTP URL
            (``https://user:token@host/...``) are used and never shown.
        revision: A branch, a tag (annotated tags are peeled), a full ref name (``refs/heads/main``), a full
            or abbreviated commit SHA, or ``HEAD`` (the remote's default branch). A bare name is looked up as
            ``refs/<name>``, then ``refs/tags/<name>``, then ``refs/heads/<name>``, git's own order.
        path: The application's folder, relative to the repository root.
        cache_dir: Where clones and checkouts live; defaults to ``<user cache dir>/reconcile/git``.
            Sources may share it, across threads and processes.
        username: HTTP or SSH user name; overrides one in the URL. With only a token, HTTP sends ``git``.
        password: HTTP password or token (or an SSH password); overrides one in the URL.
        ssh_key: Private key file for SSH. Without one, SSH asks the running ssh-agent.
        ssh_public_key: Public key file, when libssh2 cannot derive it from the private key.
        ssh_passphrase: Passphrase of ``ssh_key`` (or of ``ssh_key_data``).
        ssh_key_data: A private key for SSH as text (PEM or OpenSSH), as Argo CD's ``sshPrivateKey`` holds it;
            never written to disk and never shown.
        insecure: Skip verifying the server: an SSH host key that is not in ``~/.ssh/known_hosts``, an HTTPS
            certificate that does not verify (Argo CD's ``insecure``). By default both are refused.
        proxy: ``None`` connects directly, ``True`` honours the ``*_proxy`` environment variables, a string
            is the proxy URL.
        lock_timeout: Seconds to wait for another fetch of the same repository; ``None`` waits for ever.
        logger: A structlog logger to use instead of ``structlog.get_logger("reconcile")``.
        credentials: Repository credentials by URL (Argo CD's repo-creds); this URL's user name and password
            (or token), SSH private key and ``insecure`` setting are used unless given here or in the URL.

    Raises:
        ConfigurationError: The URL, path or key options cannot work.
    """

    def __init__(
        self,
        url: str,
        revision: str = "HEAD",
        path: str = ".",
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        username: str | None = None,
        password: str | None = None,
        ssh_key: str | os.PathLike[str] | None = None,
        ssh_public_key: str | os.PathLike[str] | None = None,
        ssh_passphrase: str | None = None,
        proxy: str | Literal[True] | None = None,
        lock_timeout: float | None = 600.0,
        logger: FilteringBoundLogger | None = None,
        credentials: Credentials | None = None,
        ssh_key_data: str | None = None,
        insecure: bool | None = None,
    ) -> None:
        self._url = _parse_url(url)
        if not isinstance(revision, str) or not revision.strip():
            raise ConfigurationError.argument(f"GitSource({self._url.display}).revision", "a revision", revision)
        self.revision = revision.strip()
        self.path = _normalize_path(path)
        self.cache_dir = cache_folder(cache_dir, "git")
        found = credentials.for_url(url.strip()) if credentials is not None else None
        if found is not None:
            found.check_usable(f"GitSource({self._url.display})", supports=_GIT_SETTINGS)
            if found.ssh_private_key and self._url.kind != "ssh":
                raise ConfigurationError(
                    f"GitSource({self._url.display}): the repository credential {found.origin} sets sshPrivateKey, "
                    "which only SSH URLs use"
                )
        if ssh_key_data is None and found is not None and not ssh_key:
            ssh_key_data = found.ssh_private_key
        if ssh_key_data is not None and (self._url.kind != "ssh" or ssh_key is not None):
            raise ConfigurationError("ssh_key_data only applies to SSH URLs, and not with ssh_key")
        self._ssh_key_data = ssh_key_data
        self._insecure = insecure if insecure is not None else bool(found is not None and found.insecure)
        self._username = username if username is not None else self._url.username or (found.username if found else None)
        password = password if password is not None else self._url.password
        if password is None and found is not None:
            password = found.password or found.bearer_token
        self._password = password
        self._ssh_key = self._key_file(ssh_key, "ssh_key")
        self._ssh_public_key = self._key_file(ssh_public_key, "ssh_public_key")
        if self._ssh_public_key is not None and self._ssh_key is None:
            raise ConfigurationError("ssh_public_key needs ssh_key (the private key) as well")
        self._ssh_passphrase = ssh_passphrase
        self._proxy = proxy
        self._lock_timeout = lock_timeout
        self._logger = logger
        # Messages never include credentials by construction; scrubbing every text we build is a second guard.
        secrets = {self._password, self._url.password, ssh_passphrase, ssh_key_data, *query_secrets(self._url.remote)}
        if self._url.kind == "http" and self._password is None:
            secrets.add(self._username)  # a token given as the user name (``https://<token>@host/...``)
        self._secrets = tuple(
            sorted(
                {form for s in secrets if s and len(s) >= _MIN_SECRET for form in (s, quote(s, safe=""))},
                key=len,
                reverse=True,
            )
        )

    def _key_file(self, value: str | os.PathLike[str] | None, option: str) -> Path | None:
        if value is None:
            return None
        if self._url.kind != "ssh":
            raise ConfigurationError(f"{option} only applies to SSH URLs, not {self._url.display}")
        key = Path(value).expanduser()
        if not key.is_file():
            raise ConfigurationError(f"{option} {str(key)!r} is not a readable file")
        return key

    @property
    def url(self) -> str:
        """The repository URL as shown in messages: any password or token removed."""
        return self._url.display

    @property
    def cache_path(self) -> Path:
        """This repository's folder in the cache (holds ``repo.git``, ``checkouts`` and ``lock``)."""
        digest = hashlib.sha256(self._url.key.encode()).hexdigest()[:32]
        return self.cache_dir / digest

    def __repr__(self) -> str:
        return f"GitSource(url={self.url!r}, revision={self.revision!r}, path={self.path!r})"

    # ---------------------------------------------------------------------------------------------- fetch

    def fetch(self) -> Snapshot:
        """Resolve the revision, bring its commit into the cache if needed, and extract its tree.

        Returns:
            The snapshot: ``root`` holds the whole repository's tree, ``path`` is the application folder.

        Raises:
            RepositoryUnreachableError: The repository could not be reached or read (retryable).
            AuthenticationError: Credentials were missing or refused.
            RevisionNotFoundError: No branch, tag or commit matches the revision.
            PathNotFoundError: The path is not a folder at that commit.
            SourceError: The cache could not be written, or the repository holds an unsafe tree.
        """
        folder = self.cache_path
        log = (self._logger or _logger()).bind(url=self.url, revision=self.revision)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SourceError(f"cannot create the Git cache {folder}: {exc}", url=self.url) from exc
        with self._locked(folder / "lock"):
            repo = self._open_cache(folder / "repo.git")
            try:
                commit = self._resolve(repo, log)
                sha = str(commit.id)
                root = self._checkout(repo, commit, folder / "checkouts", log)
                message = commit.raw_message.decode("utf-8", "replace").strip()
            finally:
                repo.free()
        revision = Revision(sha=sha, ref=self.revision, message=message)
        directory = root / self.path
        if not directory.is_dir() or not directory.resolve().is_relative_to(root.resolve()):
            raise PathNotFoundError(
                f"path {self.path!r} is not a folder in {self.url} at {revision.short}",
                url=self.url,
                revision=self.revision,
                path=self.path,
            )
        return Snapshot(revision=revision, root=root, path=self.path)

    def _locked(self, lock_file: Path) -> contextlib.AbstractContextManager[None]:
        """Hold the repository's exclusive lock in the cache."""
        return locked(lock_file, self._lock_timeout, self._lock_error)

    def _lock_error(self, message: str, retryable: bool) -> SourceError:
        return self._error(SourceError, message, retryable=retryable)

    def _open_cache(self, path: Path) -> pygit2.Repository:
        """Open the bare clone, creating it on first use and starting again when it is unreadable."""
        with self._libgit2(f"use the Git cache {path}"):
            if (path / "HEAD").exists():
                try:
                    return pygit2.Repository(str(path))
                except pygit2.GitError:
                    shutil.rmtree(path)  # a broken cache is only a cache: clone again
            return pygit2.init_repository(str(path), bare=True)

    def _resolve(self, repo: pygit2.Repository, log: FilteringBoundLogger) -> pygit2.Commit:
        """The commit the revision names, fetching only when it is not in the cache yet."""
        rev = self.revision
        if _FULL_SHA.fullmatch(rev) and (commit := self._local_commit(repo, rev)) is not None:
            log.debug("reconcile.git.cached", sha=str(commit.id))
            return commit  # commits never change: no need to ask the remote
        remote = self._remote(repo)
        heads = self._ls_remote(remote)
        log.debug("reconcile.git.ls_remote", refs=len(heads))
        ref = _match_ref(heads, rev)
        if ref is not None:
            oid = heads.get(f"{ref}^{{}}", heads[ref])
            commit = self._local_commit(repo, oid)
            if commit is None:
                self._fetch(remote, _extra_refspec(ref, heads), log)
                commit = self._local_commit(repo, oid)
            if commit is None:
                raise self._error(
                    RevisionNotFoundError,
                    f"{self.url} advertises {ref} at {oid[:7]}, but fetching did not bring that commit",
                    retryable=True,
                )
            return commit
        if _SHORT_SHA.fullmatch(rev) or _FULL_SHA.fullmatch(rev):
            commit = self._local_prefix(repo, rev)
            if commit is None:
                self._fetch(remote, None, log)
                commit = self._local_prefix(repo, rev)
            if commit is not None:
                return commit
        raise self._error(RevisionNotFoundError, f"revision {rev!r} not found in {self.url}")

    def _remote(self, repo: pygit2.Repository) -> pygit2.Remote:
        try:
            return repo.remotes.create_anonymous(self._url.remote)
        except pygit2.GitError as exc:
            raise ConfigurationError(f"libgit2 rejects the URL {self.url}: {self._redact(str(exc))}") from exc

    def _ls_remote(self, remote: pygit2.Remote) -> dict[str, str]:
        """The remote's references by name (``refs/tags/v1^{}`` is the commit an annotated tag points to)."""
        if self._url.kind == "local" and not Path(self._url.remote).exists():
            raise self._error(RepositoryUnreachableError, f"cannot reach {self.url}: no such path")
        with self._libgit2("list the references of", network=True):
            heads = remote.list_heads(callbacks=self._callbacks(), proxy=self._proxy)
        return {head.name: str(head.oid) for head in heads if head.name}

    def _fetch(self, remote: pygit2.Remote, extra: str | None, log: FilteringBoundLogger) -> None:
        refspecs = [*_FETCH_REFSPECS, *([extra] if extra else [])]
        started = time.monotonic()
        with self._libgit2("fetch from", network=True):
            stats = remote.fetch(refspecs, callbacks=self._callbacks(), proxy=self._proxy)
        log.debug(
            "reconcile.git.fetched",
            objects=stats.received_objects,
            bytes=stats.received_bytes,
            seconds=round(time.monotonic() - started, 3),
        )

    def _callbacks(self) -> _Callbacks:
        """Fresh callbacks for one network operation (the refusal count starts at zero)."""
        return _Callbacks(self)

    @contextlib.contextmanager
    def _libgit2(self, doing: str, *, network: bool = False) -> Iterator[None]:
        """The one place libgit2's failures become the library's errors, with credentials removed.

        A network operation fails as :class:`AuthenticationError` (credentials refused) or
        :class:`RepositoryUnreachableError`; any other (the cache, a checkout, the disk under them) as a
        :class:`SourceError` saying what was being done.
        """
        try:
            yield
        except pygit2.GitError as exc:
            if network:
                raise self._network_error(exc) from exc
            raise self._error(SourceError, f"cannot {doing}: {self._redact(str(exc))}") from exc
        except OSError as exc:
            if network:
                raise
            raise self._error(SourceError, f"cannot {doing}: {self._redact(str(exc))}") from exc

    def _network_error(self, exc: pygit2.GitError) -> SourceError:
        text = self._redact(str(exc))
        lowered = text.lower()
        if isinstance(exc, pygit2.AuthError) or any(
            marker in lowered for marker in ("status code: 401", "status code: 403", "authenticat", "credentials")
        ):
            return AuthenticationError(f"{self.url} refused access: {text}", url=self.url, revision=self.revision)
        return RepositoryUnreachableError(f"cannot reach {self.url}: {text}", url=self.url, revision=self.revision)

    @staticmethod
    def _local_commit(repo: pygit2.Repository, sha: str) -> pygit2.Commit | None:
        """The commit ``sha`` (a tag is peeled) when the cache has it."""
        try:
            obj = repo.get(sha)
            return None if obj is None else obj.peel(pygit2.Commit)
        except (pygit2.GitError, ValueError):
            return None

    def _local_prefix(self, repo: pygit2.Repository, prefix: str) -> pygit2.Commit | None:
        """The commit an abbreviated SHA names in the cache; ``None`` when none does."""
        try:
            obj = repo.get(prefix)
        except pygit2.AmbiguousError as exc:
            raise RevisionNotFoundError(
                f"revision {prefix!r} is ambiguous in {self.url}: give more hex digits",
                url=self.url,
                revision=prefix,
            ) from exc
        except (pygit2.GitError, ValueError):
            return None
        if obj is None:
            return None
        try:
            return obj.peel(pygit2.Commit)
        except pygit2.GitError as exc:
            raise RevisionNotFoundError(
                f"revision {prefix!r} in {self.url} is a {obj.type_str}, not a commit",
                url=self.url,
                revision=prefix,
            ) from exc

    def _checkout(
        self, repo: pygit2.Repository, commit: pygit2.Commit, checkouts: Path, log: FilteringBoundLogger
    ) -> Path:
        """Extract the commit's whole tree to ``checkouts/<sha>`` once (written aside, then renamed)."""
        target = checkouts / str(commit.id)
        if target.is_dir():
            return target
        try:
            with self._libgit2(f"extract {str(commit.id)[:7]} of {self.url} to {checkouts}"):
                checkouts.mkdir(exist_ok=True)
                publish(target, lambda scratch: _extract(repo, commit.tree, scratch))  # we hold the lock
        except _UnsafeTreeError as exc:
            raise self._error(SourceError, f"{self.url} at {str(commit.id)[:7]} holds an unsafe path: {exc}") from exc
        log.debug("reconcile.git.checkout", sha=str(commit.id), root=str(target))
        return target

    # ------------------------------------------------------------------------------------------ credentials

    def _ssh_keypair(self, user: str, allowed: CredentialType) -> _Credential | None:
        """The key file, the key text, else the agent (unless a password is the better answer)."""
        passphrase = self._ssh_passphrase or ""
        if self._ssh_key is not None:
            public = str(self._ssh_public_key) if self._ssh_public_key else None
            return pygit2.Keypair(user, public, str(self._ssh_key), passphrase)
        if self._ssh_key_data is not None:
            return pygit2.KeypairFromMemory(user, None, self._ssh_key_data, passphrase)
        if self._password is None or not allowed & CredentialType.USERPASS_PLAINTEXT:
            return pygit2.KeypairFromAgent(user)
        return None

    def _credential(self, username_from_url: str | None, allowed: CredentialType) -> _Credential:
        """The credential libgit2 asks for; raises :class:`AuthenticationError` when none is configured."""
        user = self._username or username_from_url
        if self._url.kind == "ssh":
            user = user or "git"
            if allowed & CredentialType.SSH_KEY and (key := self._ssh_keypair(user, allowed)) is not None:
                return key
            if allowed & CredentialType.USERPASS_PLAINTEXT and self._password is not None:
                return pygit2.UserPass(user, self._password)
            if allowed & CredentialType.USERNAME:
                return pygit2.Username(user)
        elif allowed & CredentialType.USERPASS_PLAINTEXT:
            if self._password is None and self._username is None:
                raise self._error(AuthenticationError, f"{self.url} requires credentials and none were given")
            return pygit2.UserPass(user or "git", self._password or "")
        elif allowed & CredentialType.USERNAME and user:
            return pygit2.Username(user)
        raise self._error(AuthenticationError, f"{self.url} asks for a kind of credentials GitSource cannot give")

    # ------------------------------------------------------------------------------------------------ errors

    def _redact(self, text: str) -> str:
        return redact_text(text, self._secrets)

    def _error(self, error: type[_E], message: str, *, retryable: bool | None = None) -> _E:
        return error(self._redact(message), url=self.url, revision=self.revision, retryable=retryable)


def _match_ref(heads: Mapping[str, str], revision: str) -> str | None:
    """The advertised reference ``revision`` names, in git's order of precedence."""
    if revision == "HEAD" or revision.startswith("refs/"):
        candidates = [revision]
    else:
        candidates = [f"refs/{revision}", f"refs/tags/{revision}", f"refs/heads/{revision}"]
    return next((name for name in candidates if name in heads), None)


def _extra_refspec(ref: str, heads: Mapping[str, str]) -> str | None:
    """A refspec for a reference outside heads and tags (``refs/pull/1/head``, a detached ``HEAD``)."""
    if ref.startswith(_MIRRORED):
        return None
    mirrored = {oid for name, oid in heads.items() if name.startswith(_MIRRORED)}
    if heads[ref] in mirrored:
        return None
    local = ref if ref.startswith("refs/") else f"refs/reconcile/{ref}"
    return f"+{ref}:{local}"


# ------------------------------------------------------------------------------------------------- checkout


class _UnsafeTreeError(Exception):
    """A tree entry that must not be written to disk (``..``, ``.git``, a slash)."""


def _safe_name(raw: bytes) -> str:
    name = os.fsdecode(raw)
    if name in ("", ".", "..") or "/" in name or "\0" in name or name.lower() == ".git":
        raise _UnsafeTreeError(repr(name))
    return name


def _extract(repo: pygit2.Repository, tree: pygit2.Tree, dest: Path) -> None:
    """Write ``tree`` below the existing folder ``dest``; symlinks stay symlinks, submodules are skipped."""
    pending: list[tuple[pygit2.Tree, Path]] = [(tree, dest)]
    while pending:  # a loop, not recursion: deep trees must not hit the recursion limit
        current, folder = pending.pop()
        for entry in current:
            target = folder / _safe_name(entry.raw_name or b"")
            mode = entry.filemode
            if mode == FileMode.TREE:
                target.mkdir()
                pending.append((repo[entry.id].peel(pygit2.Tree), target))
            elif mode == FileMode.LINK:
                target.symlink_to(os.fsdecode(repo[entry.id].peel(pygit2.Blob).data))
            elif mode in (FileMode.BLOB, FileMode.BLOB_EXECUTABLE):
                data = repo[entry.id].peel(pygit2.Blob).data
                perms = 0o777 if mode == FileMode.BLOB_EXECUTABLE else 0o666  # the umask applies, as for git
                # O_EXCL | O_NOFOLLOW: a malformed tree with duplicate names cannot write through a symlink.
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perms)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
            # FileMode.COMMIT is a submodule: skipped, like a clone without --recurse-submodules.


# ----------------------------------------------------------------------------------------------- the writer


class GitCheckoutSource:
    """A revision of a Git repository already on this machine (a CI checkout), read in place: no clone, no fetch.

    The revision is anything git's ``rev-parse`` understands in that repository: ``origin/main``, ``HEAD``,
    ``HEAD~3``, a tag, a full or abbreviated commit SHA. The commit's tree is extracted once into the cache (by
    commit, with the same safety rules as :class:`GitSource`); the repository itself is never written.

    ::

        base = GitCheckoutSource(".", "origin/main", "apps/web")
        head = GitCheckoutSource(".", "HEAD", "apps/web")

    Args:
        repository: The repository's folder (a working tree or a bare repository), or a ``file://`` URL.
        revision: What to read.
        path: The application's folder, relative to the repository root.
        cache_dir: Where extracted trees live; defaults to ``<user cache dir>/reconcile/git-checkouts``.
        lock_timeout: Seconds to wait for another extraction of the same commit.

    Raises:
        ConfigurationError: The path leaves the repository, or the revision is empty.
    """

    def __init__(
        self,
        repository: str | os.PathLike[str],
        revision: str = "HEAD",
        path: str = ".",
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        lock_timeout: float | None = 600.0,
    ) -> None:
        text = os.fspath(repository)
        self.repository = Path(text.removeprefix("file://")).expanduser().absolute()
        if not isinstance(revision, str) or not revision.strip():
            raise ConfigurationError.argument("GitCheckoutSource(revision)", "a revision", revision)
        self.revision = revision.strip()
        self.path = _normalize_path(path)
        self.cache_dir = cache_folder(cache_dir, "git-checkouts")
        self._lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"GitCheckoutSource(repository={str(self.repository)!r}, revision={self.revision!r}, path={self.path!r})"

    def fetch(self) -> Snapshot:
        """Resolve the revision in the repository and extract its tree (once per commit).

        Raises:
            RepositoryUnreachableError: The folder is not a Git repository.
            RevisionNotFoundError: The repository has no such revision.
            PathNotFoundError: The path is not a folder at that commit.
            SourceError: The cache could not be written, or the tree holds an unsafe path.
        """
        url = str(self.repository)
        try:
            repo = pygit2.Repository(url)
        except (pygit2.GitError, KeyError) as exc:
            raise RepositoryUnreachableError(f"{url} is not a Git repository: {exc}", url=url) from None
        try:
            try:
                commit = repo.revparse_single(self.revision).peel(pygit2.Commit)
            except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
                raise RevisionNotFoundError(
                    f"revision {self.revision!r} is not in {url}: {exc}", url=url, revision=self.revision
                ) from None
            sha = str(commit.id)
            target = self.cache_dir / hashlib.sha256(url.encode()).hexdigest()[:32] / sha
            if not target.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                with locked(target.parent / "lock", self._lock_timeout, self._lock_error):
                    if not target.is_dir():
                        try:
                            publish(target, lambda scratch: _extract(repo, commit.tree, scratch))
                        except _UnsafeTreeError as exc:
                            raise SourceError(
                                f"{url} at {sha[:7]} holds an unsafe path: {exc}", url=url, revision=self.revision
                            ) from None
            message = commit.raw_message.decode("utf-8", "replace").strip()
        finally:
            repo.free()
        revision = Revision(sha=sha, ref=self.revision, message=message)
        directory = target / self.path
        if not directory.is_dir() or not directory.resolve().is_relative_to(target.resolve()):
            raise PathNotFoundError(
                f"path {self.path!r} is not a folder in {url} at {revision.short}",
                url=url,
                revision=self.revision,
                path=self.path,
            )
        return Snapshot(revision=revision, root=target, path=self.path)

    def _lock_error(self, message: str, retryable: bool) -> SourceError:
        return SourceError(message, url=str(self.repository), revision=self.revision, retryable=retryable)
