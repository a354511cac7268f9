"""A chart from a Helm chart repository as a Source: Argo CD's ``repoURL`` + ``chart`` + ``targetRevision``.

Each :meth:`HelmRepositorySource.fetch` reads the repository's ``index.yaml``, picks the highest version the
constraint allows (see :mod:`reconcile.sources._semver`), and returns the chart unpacked in the cache. The
archive is downloaded with the standard library, its SHA-256 checked against the index's ``digest`` before
anything reads it, and unpacked here member by member: only regular files and folders, no absolute paths, no
``..``, no links or devices, a size limit. Doing this ourselves rather than through ``helm pull`` means the
bytes we verified are exactly the bytes we unpack, with rules we test, and no helm binary is needed to fetch.

Unpacked charts are keyed by their digest, so a second fetch of a cached version downloads only the index::

    <cache_dir>/
        <sha256>.lock     an fcntl lock: one writer per chart archive, across threads and processes
        <sha256>/<chart>/ the unpacked chart, never modified once written (written aside, then renamed)
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import attrs
import structlog

from reconcile.errors import (
    AuthenticationError,
    ConfigurationError,
    ManifestError,
    RepositoryUnreachableError,
    RevisionNotFoundError,
    SourceError,
)
from reconcile.manifests import load_manifests
from reconcile.model import Revision, Snapshot
from reconcile.redaction import query_secrets, redact_text, redact_url
from reconcile.sources._archive import UnsafeArchiveError, unpack_chart
from reconcile.sources._cache import cache_folder, locked, publish
from reconcile.sources._credentials import Credentials
from reconcile.sources._oci_source import OCISource
from reconcile.sources._semver import Constraint, Version

if TYPE_CHECKING:
    from http.client import HTTPResponse

    from structlog.typing import FilteringBoundLogger

__all__ = ["DEFAULT_MAX_CHART_SIZE", "DEFAULT_MAX_INDEX_SIZE", "HelmRepositorySource"]

DEFAULT_MAX_INDEX_SIZE = 64 * 1024 * 1024
"""Bytes an ``index.yaml`` may have (large public repositories publish a few tens of megabytes)."""

DEFAULT_MAX_CHART_SIZE = 100 * 1024 * 1024
"""Bytes a chart archive may have, and its unpacked files together (Helm's own limit is the same)."""

_MAX_MEMBERS = 10_000
_CHUNK = 1 << 16
_DIGEST = re.compile(r"(?:sha256:)?(?P<hex>[0-9a-fA-F]{64})")
_MIN_SECRET = 4  # shorter secrets are not searched for: replacing every "ab" would mangle messages
_SHOWN = 20  # names and versions listed in a "not found" message
_AUTH_STATUSES = (401, 403)
_E = TypeVar("_E", bound=SourceError)


def _logger() -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger("reconcile")
    return logger


class _NoRedirectAuth(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only (never ``file:`` or ``ftp:``)."""

    def redirect_request(  # noqa: PLR0917 - urllib's own signature
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-HTTP URL refused: {msg}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_TLS_SETTINGS = frozenset({"insecure", "tlsClientCertData", "tlsClientCertKey"})


@attrs.frozen(kw_only=True)
class _TLS:
    """How HTTPS connections to the repository are checked and who the client says it is."""

    ca_file: str | None
    ca_pem: str | None
    verify: bool
    client_cert: str | None = attrs.field(repr=False)
    client_key: str | None = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class _ChartVersion:
    """One entry of the index for the chart: its version, archive URLs and digest."""

    version: str
    urls: tuple[str, ...]
    digest: str | None


class HelmRepositorySource:
    """A chart from an HTTP(S) Helm chart repository, by name and version or semver range.

    ::

        source = HelmRepositorySource("https://charts.example.com", "web", "^1.2")
        snapshot = source.fetch()  # snapshot.directory is the unpacked chart folder

    The snapshot's revision has the archive's SHA-256 as ``sha`` (64 hex digits) and the chosen version as
    ``ref``; its ``root`` holds the unpacked archive and its ``path`` is the chart's folder in it.

    Args:
        url: The repository's URL (the folder holding ``index.yaml``). Credentials in it
            (``https://user:token@host/charts``) are used and never shown.
        chart: The chart's name in the index.
        version: An exact version (``1.2.3``) or a constraint (``*``, ``1.2.*``, ``>=1.0.0 <2.0.0``, ``^1.2``,
            ``~1.2.3``); the highest match wins. Prereleases only when the constraint names one.
        username: Basic-auth user name; overrides one in the URL.
        password: Basic-auth password or token; overrides one in the URL.
        cache_dir: Where unpacked charts live; defaults to ``<user cache dir>/reconcile/helm-charts``. Sources
            may share it, across threads and processes.
        timeout: Seconds each download may take in all (and each network read at most).
        pass_credentials: Send the credentials with chart downloads on other hosts than the repository's too
            (Helm's ``--pass-credentials``); by default they only go to the repository's own scheme, host and
            port.
        proxy: ``None`` connects directly, ``True`` honours the ``*_proxy`` environment variables, a string is
            the proxy URL.
        max_index_size: Bytes ``index.yaml`` may have.
        max_chart_size: Bytes the chart archive may have, and its unpacked files together.
        lock_timeout: Seconds to wait for another fetch of the same archive; ``None`` waits for ever.
        logger: A structlog logger to use instead of ``structlog.get_logger("reconcile")``.
        credentials: Repository credentials by URL (Argo CD's repo-creds); this URL's user name and password
            (or token) are used unless given here or in the URL, with its client certificate and ``insecure``
            setting, and the CA certificates kept for the repository's host (``argocd-tls-certs-cm``).
        ca_file: A PEM bundle of the CAs to trust instead of the system's (overrides the credentials' CAs).
        verify_tls: Check the repository's certificate; ``False`` is Argo CD's ``insecure``. By default the
            credential's ``insecure`` setting decides, and certificates are checked.

    Raises:
        ConfigurationError: The URL, chart name or version constraint cannot work.
    """

    def __init__(
        self,
        url: str,
        chart: str,
        version: str = "*",
        *,
        username: str | None = None,
        password: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float = 90.0,
        pass_credentials: bool = False,
        proxy: str | Literal[True] | None = None,
        max_index_size: int = DEFAULT_MAX_INDEX_SIZE,
        max_chart_size: int = DEFAULT_MAX_CHART_SIZE,
        lock_timeout: float | None = 600.0,
        logger: FilteringBoundLogger | None = None,
        credentials: Credentials | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        verify_tls: bool | None = None,
    ) -> None:
        self._base, self.url, url_user, url_password = _parse_url(url)
        if not isinstance(chart, str) or not chart.strip() or "/" in chart:
            raise ConfigurationError(f"HelmRepositorySource for {self.url} needs a chart name without '/'")
        self.chart = chart.strip()
        self.version = (version or "*").strip() or "*"
        try:
            self._constraint = Constraint.parse(self.version)
        except ValueError as exc:
            raise ConfigurationError(f"chart version {exc}") from None
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout}")
        self.cache_dir = cache_folder(cache_dir, "helm-charts")
        found = credentials.for_url(url.strip()) if credentials is not None else None
        if found is not None:
            found.check_usable(f"HelmRepositorySource({self.url})", supports=_TLS_SETTINGS)
        self._username = username if username is not None else url_user or (found.username if found else None)
        password = password if password is not None else url_password
        if password is None and found is not None:
            password = found.password or found.bearer_token
        self._password = password
        self._timeout = timeout
        self._pass_credentials = pass_credentials
        self._proxy = proxy
        self._max_index_size = max_index_size
        self._max_chart_size = max_chart_size
        self._lock_timeout = lock_timeout
        self._logger = logger
        self._credentials = credentials
        host = urlsplit(self._base).netloc
        self._tls = _TLS(
            ca_file=os.fspath(ca_file) if ca_file is not None else None,
            ca_pem=credentials.ca_for_host(host) if credentials is not None and ca_file is None else None,
            verify=verify_tls if verify_tls is not None else not (found is not None and found.insecure),
            client_cert=found.tls_client_cert_data if found is not None else None,
            client_key=found.tls_client_cert_key if found is not None else None,
        )
        if bool(self._tls.client_cert) != bool(self._tls.client_key):
            raise ConfigurationError(f"HelmRepositorySource({self.url}): a client certificate needs both cert and key")
        # Messages never include credentials by construction; scrubbing every text we build is a second guard.
        secrets = {self._password, url_password, self._tls.client_key, *query_secrets(self._base)}
        if self._password is None:
            secrets.add(self._username)  # a token given as the user name
        self._secrets = tuple(sorted((s for s in secrets if s and len(s) >= _MIN_SECRET), key=len, reverse=True))

    def __repr__(self) -> str:
        return f"HelmRepositorySource(url={self.url!r}, chart={self.chart!r}, version={self.version!r})"

    # ---------------------------------------------------------------------------------------------- fetch

    def fetch(self) -> Snapshot:
        """Read the index, choose the version, and bring that chart into the cache unless it is there already.

        Returns:
            The snapshot: ``root`` holds the unpacked archive, ``path`` the chart's folder in it.

        Raises:
            RepositoryUnreachableError: The repository or the archive could not be reached or read (retryable).
            AuthenticationError: Credentials were missing or refused.
            RevisionNotFoundError: The index has no such chart, or no version of it matches; the message lists
                what there is.
            SourceError: The index is malformed, the archive's digest differs from the index's, the archive is
                unsafe (links, ``..``, absolute paths, devices) or too large, or the cache cannot be written.
        """
        log = (self._logger or _logger()).bind(url=self.url, chart=self.chart, version=self.version)
        index_url = f"{self._base}/index.yaml"
        index = self._download(index_url, self._max_index_size, what="the index")
        entry = self._choose(self._entries(index))
        log.debug("reconcile.helm_repository.resolved", chosen=entry.version, digest=entry.digest)
        if urlsplit(entry.urls[0]).scheme.lower() == "oci":
            return self._fetch_oci(entry)
        if entry.digest is not None and (found := self._cached(entry.digest)) is not None:
            log.debug("reconcile.helm_repository.cached", root=str(found[0]))
            return self._snapshot(entry, entry.digest, found)
        archive_url = self._archive_url(entry)
        data = self._download(archive_url, self._max_chart_size, what=f"chart {self.chart} {entry.version}")
        digest = hashlib.sha256(data).hexdigest()
        if entry.digest is not None and digest != entry.digest:
            raise self._error(
                SourceError,
                f"chart {self.chart} {entry.version} from {redact_url(archive_url)} has SHA-256 {digest}, but the "
                f"index of {self.url} says {entry.digest}; the archive was discarded",
            )
        if entry.digest is None:
            log.warning("reconcile.helm_repository.no_digest", chosen=entry.version, digest=digest)
        found = self._store(digest, data, entry)
        log.debug("reconcile.helm_repository.downloaded", bytes=len(data), root=str(found[0]))
        return self._snapshot(entry, digest, found)

    def _fetch_oci(self, entry: _ChartVersion) -> Snapshot:
        """A chart the index places in an OCI registry (``oci://registry/charts/web[:tag]``), as helm pulls it.

        Without a tag in the URL the entry's version is the tag; the index's digest, when there is one, must be
        the layer's. The registry's credentials are the ones configured for it, not the index's.
        """
        url = entry.urls[0]
        name, _, tag = url.rpartition("/")[2].partition(":")
        repository = url[: len(url) - len(url.rpartition("/")[2])] + name.partition("@")[0]
        reference = name.partition("@")[2] or tag or entry.version
        try:
            source = OCISource(
                repository,
                reference,
                credentials=self._credentials,
                expected_layer_digest=f"sha256:{entry.digest}" if entry.digest else None,
                cache_dir=self.cache_dir / "oci",
                timeout=self._timeout,
                max_size=self._max_chart_size,
                proxy=self._proxy,
                lock_timeout=self._lock_timeout,
                logger=self._logger,
            )
        except ConfigurationError as exc:
            raise self._error(
                SourceError, f"chart {self.chart} {entry.version} in {self.url} has an unusable OCI URL: {exc}"
            ) from None
        snapshot = source.fetch()
        revision = Revision(sha=snapshot.revision.sha, ref=entry.version, message=snapshot.revision.message)
        return Snapshot(revision=revision, root=snapshot.root, path=snapshot.path)

    def _snapshot(self, entry: _ChartVersion, digest: str, found: tuple[Path, str]) -> Snapshot:
        root, folder = found
        revision = Revision(sha=digest, ref=entry.version, message=f"{self.chart} {entry.version}")
        return Snapshot(revision=revision, root=root, path=folder)

    # ---------------------------------------------------------------------------------------------- index

    def _entries(self, data: bytes) -> list[_ChartVersion]:
        """The index's versions of the chart, in index order."""
        try:
            documents = load_manifests(data, file="index.yaml", max_bytes=self._max_index_size)
        except ManifestError as exc:
            raise self._error(SourceError, f"the index of {self.url} is not valid YAML: {exc}") from None
        entries = documents[0][0].get("entries") if len(documents) == 1 else None
        if not isinstance(entries, dict):
            raise self._error(SourceError, f"the index of {self.url} has no 'entries' mapping")
        versions = entries.get(self.chart)
        if not isinstance(versions, list) or not versions:
            names = sorted(entries)
            shown = ", ".join(names[:_SHOWN]) + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
            raise self._error(
                RevisionNotFoundError,
                f"chart {self.chart!r} is not in {self.url}; it has " + (shown or "no charts"),
            )
        return [self._entry(item, position) for position, item in enumerate(versions)]

    def _entry(self, item: object, position: int) -> _ChartVersion:
        where = f"entry {position} of chart {self.chart!r} in the index of {self.url}"
        if not isinstance(item, dict):
            raise self._error(SourceError, f"{where} is not a mapping")
        version, urls, digest = item.get("version"), item.get("urls"), item.get("digest")
        if isinstance(version, int | float) and not isinstance(version, bool):
            version = str(version)  # an unquoted "1" in hand-written YAML
        if not isinstance(version, str) or not version:
            raise self._error(SourceError, f"{where} has no version")
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            raise self._error(SourceError, f"{where} ({version}) has no list of URLs")
        checked: str | None = None
        if digest not in (None, ""):
            match = _DIGEST.fullmatch(str(digest).strip())
            if match is None:
                raise self._error(SourceError, f"{where} ({version}) has a digest that is not a SHA-256")
            checked = match["hex"].lower()
        return _ChartVersion(version=version, urls=tuple(urls), digest=checked)

    def _choose(self, entries: list[_ChartVersion]) -> _ChartVersion:
        """The entry named exactly by ``version``, else the highest one the constraint allows."""
        for entry in entries:
            if entry.version == self.version:
                return entry
        best = self._constraint.best(entry.version for entry in entries)
        if best is not None:
            return next(entry for entry in entries if entry.version == best)
        ordered = sorted(
            {entry.version for entry in entries},
            key=lambda v: (_sort_key(v), v),
            reverse=True,
        )
        shown = ", ".join(ordered[:_SHOWN]) + (f" and {len(ordered) - _SHOWN} more" if len(ordered) > _SHOWN else "")
        raise self._error(
            RevisionNotFoundError,
            f"no version of chart {self.chart!r} in {self.url} matches {self.version!r}; it has {shown}",
        )

    def _archive_url(self, entry: _ChartVersion) -> str:
        """The first URL of the entry, resolved against the repository URL as Helm does."""
        url = urljoin(f"{self._base}/", entry.urls[0])
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise self._error(
                SourceError,
                f"chart {self.chart} {entry.version} in {self.url} has a URL that is not http(s): "
                f"{redact_url(entry.urls[0])}",
            )
        return url

    # ---------------------------------------------------------------------------------------------- HTTP

    def _download(self, url: str, limit: int, *, what: str) -> bytes:
        """GET ``url`` whole, within the time and size limits; HTTP failures become typed errors."""
        shown = redact_url(url)
        request = urllib.request.Request(url, headers={"User-Agent": "reconcile"})  # noqa: S310 - http(s) only
        if self._sends_credentials(url):
            token = base64.b64encode(f"{self._username or ''}:{self._password or ''}".encode()).decode()
            # Unredirected: a redirect to another host must not carry the credentials along.
            request.add_unredirected_header("Authorization", f"Basic {token}")
        deadline = time.monotonic() + self._timeout
        try:
            with self._opener().open(request, timeout=self._timeout) as response:
                return self._read(response, limit, deadline, shown, what)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in _AUTH_STATUSES:
                raise self._error(AuthenticationError, self._refusal(url, exc.code, what)) from None
            raise self._error(
                RepositoryUnreachableError, f"cannot get {what} from {shown}: HTTP {exc.code} {exc.reason}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            if isinstance(reason, ssl.SSLError):  # a certificate is not a passing failure: no point retrying
                raise self._error(
                    RepositoryUnreachableError, f"TLS with {shown} failed for {what}: {reason}", retryable=False
                ) from None
            raise self._error(RepositoryUnreachableError, f"cannot reach {shown} for {what}: {reason}") from None

    def _refusal(self, url: str, status: int, what: str) -> str:
        shown = redact_url(url)
        if self._sends_credentials(url):
            return f"{shown} refused the credentials for {what} (HTTP {status})"
        if self._username is None and self._password is None:
            return f"{shown} requires credentials for {what} (HTTP {status}) and none were given"
        return (
            f"{shown} requires credentials for {what} (HTTP {status}); they were not sent because it is not "
            f"on {self.url}'s host (pass_credentials=True sends them)"
        )

    def _read(self, response: HTTPResponse, limit: int, deadline: float, shown: str, what: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise self._error(SourceError, f"{what} at {shown} is {declared} bytes, over the limit of {limit}")
        buffer = io.BytesIO()
        while chunk := response.read(_CHUNK):
            buffer.write(chunk)
            if buffer.tell() > limit:
                raise self._error(SourceError, f"{what} at {shown} is over the limit of {limit} bytes")
            if time.monotonic() > deadline:
                raise self._error(
                    RepositoryUnreachableError, f"downloading {what} from {shown} took over {self._timeout} s"
                )
        return buffer.getvalue()

    def _opener(self) -> urllib.request.OpenerDirector:
        """Only HTTP(S) handlers: an index cannot make us read ``file:`` or ``ftp:`` URLs."""
        if self._proxy is None:
            proxies: dict[str, str] | None = {}
        elif self._proxy is True:
            proxies = None  # the environment's
        else:
            proxies = {"http": self._proxy, "https": self._proxy}
        opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler(proxies),
            urllib.request.HTTPHandler(),
            urllib.request.HTTPSHandler(context=self._ssl_context()),
            _NoRedirectAuth(),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            opener.add_handler(handler)
        return opener

    def _ssl_context(self) -> ssl.SSLContext:
        """The TLS settings: the CAs to trust, the client certificate, or no verification when asked."""
        tls = self._tls
        context = ssl.create_default_context(cafile=tls.ca_file, cadata=tls.ca_pem)
        if not tls.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if tls.client_cert and tls.client_key:
            # ssl reads the pair from files when it loads them; a private folder that lives only that long.
            with tempfile.TemporaryDirectory(prefix="reconcile-tls-") as folder:
                cert, key = Path(folder) / "client.crt", Path(folder) / "client.key"
                for path, text in ((cert, tls.client_cert), (key, tls.client_key)):
                    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                        handle.write(text)
                try:
                    context.load_cert_chain(cert, key)
                except ssl.SSLError as exc:
                    raise self._error(
                        SourceError, f"the client certificate for {self.url} is unusable: {exc}"
                    ) from None
        return context

    def _sends_credentials(self, url: str) -> bool:
        if self._username is None and self._password is None:
            return False
        return self._pass_credentials or _origin(url) == _origin(self._base)

    # ---------------------------------------------------------------------------------------------- cache

    def _cached(self, digest: str) -> tuple[Path, str] | None:
        """``(root, chart folder)`` when the archive with ``digest`` is unpacked in the cache already."""
        root = self.cache_dir / digest
        if not root.is_dir():
            return None
        folders = [child.name for child in root.iterdir() if child.is_dir() and not child.is_symlink()]
        return (root, folders[0]) if len(folders) == 1 else None

    def _store(self, digest: str, data: bytes, entry: _ChartVersion) -> tuple[Path, str]:
        """Unpack the verified archive into ``<cache_dir>/<digest>`` (aside first, then renamed)."""
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(SourceError, f"cannot create the chart cache {self.cache_dir}: {exc}") from exc
        with self._locked(self.cache_dir / f"{digest}.lock"):
            found = self._cached(digest)
            if found is not None:
                return found  # another fetch unpacked it while we waited
            target = self.cache_dir / digest
            unpacked: list[str] = []  # the archive's top-level folder, as _unpack names it
            try:
                if target.exists():
                    shutil.rmtree(target)  # not a chart folder we wrote: start again
                publish(
                    target,
                    lambda scratch: unpacked.append(unpack_chart(data, scratch, self._max_chart_size)),
                    scratch_prefix=f".tmp-{digest}-",
                )
                folder = unpacked[0]
            except UnsafeArchiveError as exc:
                raise self._error(
                    SourceError, f"chart {self.chart} {entry.version} from {self.url} is refused: {exc}"
                ) from None
            except OSError as exc:
                raise self._error(
                    SourceError, f"cannot unpack chart {self.chart} {entry.version} into {self.cache_dir}: {exc}"
                ) from exc
        return target, folder

    def _locked(self, lock_file: Path) -> contextlib.AbstractContextManager[None]:
        """Hold the archive's exclusive lock in the cache."""
        return locked(
            lock_file,
            self._lock_timeout,
            lambda message, retryable: self._error(SourceError, message, retryable=retryable),
        )

    # ---------------------------------------------------------------------------------------------- errors

    def _error(self, error: type[_E], message: str, *, retryable: bool | None = None) -> _E:
        return error(redact_text(message, self._secrets), url=self.url, revision=self.version, retryable=retryable)


# ----------------------------------------------------------------------------------------------------- URLs


def _parse_url(url: str) -> tuple[str, str, str | None, str | None]:
    """``(base URL without credentials or trailing slash, display URL, user, password)``."""
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError.argument("HelmRepositorySource(url)", "a repository URL", url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme == "oci":
        raise ConfigurationError("OCI chart registries (oci://) are not supported; give an http(s) repository URL")
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"a Helm repository URL must be http(s)://host/..., got {redact_url(url)!r}")
    host = parts.hostname.lower()
    hostport = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        hostport = f"{hostport}:{parts.port}"
    base = urlunsplit((scheme, hostport, parts.path.rstrip("/"), parts.query, ""))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return base, redact_url(base), user, password


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _sort_key(text: str) -> tuple[int, Version]:
    try:
        return (1, Version.parse(text))
    except ValueError:
        return (0, Version(0))
