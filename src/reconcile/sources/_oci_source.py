"""An artifact in an OCI registry as a Source: a Helm chart, or a layer of plain manifests.

Argo CD reads OCI registries two ways, and so does :class:`OCISource`:

- **Helm charts**, as ``helm push`` stores them: a manifest whose layer has the media type
  ``application/vnd.cncf.helm.chart.content.v1.tar+gzip``. The snapshot's ``path`` is the chart's folder, so the
  Helm renderer takes it as it takes a chart from an HTTP repository. Argo CD's ``repoURL: registry/charts`` with
  ``chart: nginx`` is ``OCISource("oci://registry/charts/nginx", version)``.
- **Plain artifacts** (Argo CD's ``oci://`` sources, Flux's OCIRepository): one layer of a tar or tar+gzip media
  type, unpacked into a snapshot whose ``path`` is chosen inside it.

The revision is what Argo CD accepts in ``targetRevision``: an exact tag (a Helm version's ``+`` is written ``_``
in tags, as ``helm push`` does), a semver range resolved against the tag list as helm resolves it, or a
``sha256:`` digest. Whatever was asked, the snapshot's revision is the manifest's digest, and the content is
cached by it::

    <cache_dir>/
        <hex>.lock             one writer per manifest, across threads and processes
        <hex>/artifact.json    what the manifest said: its digest, the layer's media type, the chart's folder
        <hex>/content/         the unpacked layer, never modified once written

A source pinned by digest whose content is cached makes no request at all; a tag costs one manifest request.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs
import structlog

from reconcile.errors import ConfigurationError, PathNotFoundError, RevisionNotFoundError, SourceError
from reconcile.model import Revision, Snapshot
from reconcile.redaction import redact_text
from reconcile.sources._archive import UnsafeArchiveError, unpack_chart, unpack_tree
from reconcile.sources._cache import cache_folder, locked, publish
from reconcile.sources._credentials import Credentials, RepositoryCredential
from reconcile.sources._oci import DIGEST, Access, ImageManifest, OCIReference, RegistryClient, check_tag
from reconcile.sources._semver import Constraint, Version

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

__all__ = ["DEFAULT_LAYER_TYPES", "DEFAULT_MAX_ARTIFACT_SIZE", "DEFAULT_MAX_TAGS", "HELM_CHART_LAYER", "OCISource"]

HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
"""The media type of the layer ``helm push`` writes: the chart's ``.tgz``."""

DEFAULT_LAYER_TYPES = (
    HELM_CHART_LAYER,
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.cncf.flux.content.v1.tar+gzip",
)
"""Layer media types read by default: Helm charts, OCI tar layers (Argo CD's defaults), Flux's content layer."""

DEFAULT_MAX_ARTIFACT_SIZE = 100 * 1024 * 1024
"""Bytes a layer may have, and its unpacked files together (Helm's limit for a chart)."""

DEFAULT_MAX_TAGS = 10_000
"""Tags read to resolve a version range; a repository with more needs an exact tag or digest."""

_RANGE = re.compile(r"[*^~<>=|, ]|(?:^|\.)[xX](?:\.|$)")  # what only a version range holds
_MIN_SECRET = 4
_SHOWN = 20
_E = TypeVar("_E", bound=SourceError)


def _logger() -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger("reconcile")
    return logger


@attrs.frozen(kw_only=True)
class _Stored:
    """An unpacked artifact in the cache."""

    digest: str
    media_type: str
    chart: str | None


class OCISource:
    """An artifact in an OCI registry (a Helm chart, or a layer of manifests) as a Source.

    ::

        chart = OCISource("oci://registry.example.com/charts/nginx", "^18.1")
        files = OCISource("oci://registry.example.com/manifests/web", "sha256:4f2e...", path="overlays/prod")

    Args:
        url: The repository: ``oci://host[:port]/path`` or ``host[:port]/path`` (Argo CD's form).
        reference: A tag, a semver range (``^1.2``, ``>=1 <2``, ``1.2.x``; resolved against the tag list), or a
            ``sha256:`` digest.
        path: The folder of the unpacked artifact to read; for a Helm chart, a folder of the chart (``.`` is the
            chart itself).
        credentials: Repository credentials by URL (Argo CD's repo-creds, a Docker ``config.json``): user name and
            password, client certificate, ``insecure``, ``insecureOCIForceHttp``.
        username: A user name for the registry; with ``password`` it wins over ``credentials``.
        password: Its password or token.
        token: A bearer token sent as it is.
        plain_http: Talk HTTP, not HTTPS (a registry on localhost); by default only if the credential says
            ``insecureOCIForceHttp``.
        verify_tls: Check the registry's certificate; ``False`` is Argo CD's ``insecure``.
        ca_file: A PEM bundle of the CAs to trust for this registry instead of the system's; by default the
            certificates ``credentials`` hold for the registry's host (Argo CD's ``argocd-tls-certs-cm``), else the
            system's.
        layer_types: The layer media types to read; the manifest must hold exactly one of them.
        expected_layer_digest: The layer must have this digest (a chart whose HTTP index names an ``oci://`` URL
            and a digest).
        cache_dir: Where unpacked artifacts live; defaults to ``<user cache dir>/reconcile/oci``.
        timeout: Seconds each request may wait, and each download may take in all.
        max_size: Bytes the layer may have, and its unpacked files together.
        max_tags: Tags read to resolve a range.
        proxy: ``None`` connects directly, ``True`` honours the ``*_proxy`` environment variables, a string is the
            proxy URL.
        lock_timeout: Seconds to wait for another fetch of the same artifact; ``None`` waits for ever.
        logger: A structlog logger to use instead of ``structlog.get_logger("reconcile")``.

    Attributes:
        url: The repository, ``oci://registry/repository``.
        reference: The tag, range or digest asked for.
        path: The folder read inside the artifact (inside the chart, for a chart).
        requests_made: Every request of the last :meth:`fetch` (method and URL, never credentials); empty after a
            fetch pinned by digest that the cache answered.

    Raises:
        ConfigurationError: The URL, reference or path cannot work, or a credential sets what OCI cannot honour.
    """

    def __init__(
        self,
        url: str,
        reference: str = "latest",
        path: str = ".",
        *,
        credentials: Credentials | None = None,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        plain_http: bool | None = None,
        verify_tls: bool | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        layer_types: tuple[str, ...] = DEFAULT_LAYER_TYPES,
        expected_layer_digest: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        timeout: float = 90.0,
        max_size: int = DEFAULT_MAX_ARTIFACT_SIZE,
        max_tags: int = DEFAULT_MAX_TAGS,
        proxy: str | Literal[True] | None = None,
        lock_timeout: float | None = 600.0,
        logger: FilteringBoundLogger | None = None,
    ) -> None:
        self.repository = OCIReference.parse(url, argument="OCISource(url)")
        self.url = self.repository.url
        self.reference = _reference(reference)
        self.path = _path(path)
        if timeout <= 0:
            raise ConfigurationError(f"OCISource(timeout) must be positive, got {timeout}")
        if expected_layer_digest is not None and not DIGEST.fullmatch(expected_layer_digest):
            raise ConfigurationError(
                f"OCISource(expected_layer_digest) must be sha256:<hex>, not {expected_layer_digest!r}"
            )
        found = _credential(credentials, self.repository)
        if found is not None:
            found.check_usable(f"OCISource({self.url})", supports=_OCI_SETTINGS)
        if username is None and password is None and found is not None:
            username, password = found.username, found.password
            token = token if token is not None else found.bearer_token
        self._access = Access(
            username=username,
            password=password,
            token=token,
            force_basic_auth=bool(found and found.force_http_basic_auth),
            plain_http=plain_http if plain_http is not None else bool(found and found.insecure_oci_force_http),
            verify_tls=verify_tls if verify_tls is not None else not (found and found.insecure),
            ca_file=os.fspath(ca_file) if ca_file is not None else None,
            ca_pem=credentials.ca_for_host(self.repository.registry) if credentials is not None else None,
            client_cert=found.tls_client_cert_data if found else None,
            client_key=found.tls_client_cert_key if found else None,
            timeout=timeout,
            proxy=proxy,
        )
        self._layer_types = tuple(layer_types)
        self._expected_layer = expected_layer_digest
        self.cache_dir = cache_folder(cache_dir, "oci")
        self._max_size = max_size
        self._max_tags = max_tags
        self._lock_timeout = lock_timeout
        self._logger = logger
        secrets = [s for s in self._access.secrets if len(s) >= _MIN_SECRET]
        self._secrets = tuple(sorted(secrets, key=len, reverse=True))
        self.requests_made: list[str] = []

    def __repr__(self) -> str:
        return f"OCISource(url={self.url!r}, reference={self.reference!r}, path={self.path!r})"

    def fetch(self) -> Snapshot:
        """Resolve the reference to a manifest, and bring its layer into the cache unless it is there already.

        Raises:
            RepositoryUnreachableError: The registry could not be reached or read (retryable).
            AuthenticationError: Credentials were missing or refused.
            RevisionNotFoundError: No such tag or digest, or no tag matches the range (the message lists tags).
            PathNotFoundError: ``path`` is not a folder of the artifact.
            SourceError: A digest does not match, the manifest has no single readable layer, the layer is unsafe
                or too large, or the cache cannot be written.
        """
        log = (self._logger or _logger()).bind(url=self.url, reference=self.reference)
        if DIGEST.fullmatch(self.reference) and (stored := self._cached(self.reference)) is not None:
            self.requests_made = []
            log.debug("reconcile.oci.cached", digest=stored.digest)
            return self._snapshot(stored, self.reference)
        client = RegistryClient(self.repository, self._access, self._error_from_client)
        self.requests_made = client.requests_made
        with client:
            tag = self._resolve(client)
            manifest = client.manifest(tag)
            log.debug("reconcile.oci.resolved", tag=tag, digest=manifest.digest)
            stored = self._cached(manifest.digest)
            if stored is None:
                stored = self._download(client, manifest, tag)
                log.debug("reconcile.oci.downloaded", digest=manifest.digest, media_type=stored.media_type)
        return self._snapshot(stored, tag)

    # ------------------------------------------------------------------------------------------- resolving

    def _resolve(self, client: RegistryClient) -> str:
        """The tag or digest to ask for: the reference itself, or the highest tag a range allows."""
        if DIGEST.fullmatch(self.reference):
            return self.reference
        if not _RANGE.search(self.reference):
            return check_tag(self.reference, "OCISource(reference)")  # "1.2.0", "latest", "v3": a tag
        try:
            constraint = Constraint.parse(self.reference)
        except ValueError as exc:
            raise self._error(RevisionNotFoundError, f"OCISource(reference): {exc}") from None
        tags = client.tags(self._max_tags)
        versions = {tag.replace("_", "+"): tag for tag in tags}
        best = constraint.best(versions)
        if best is None:
            ordered = sorted(versions, key=lambda v: (_sort_key(v), v), reverse=True)
            more = f" and {len(ordered) - _SHOWN} more" if len(ordered) > _SHOWN else ""
            shown = ", ".join(ordered[:_SHOWN]) + more
            raise self._error(
                RevisionNotFoundError, f"no tag of {self.url} matches {self.reference!r}; it has {shown or 'no tags'}"
            )
        return versions[best]

    # ------------------------------------------------------------------------------------------- fetching

    def _download(self, client: RegistryClient, manifest: ImageManifest, tag: str) -> _Stored:
        layer = self._layer(manifest, tag)
        media_type = str(layer.get("mediaType"))
        if self._expected_layer is not None and layer.get("digest") != self._expected_layer:
            raise self._error(
                SourceError,
                f"{self.url}:{tag} holds the layer {layer.get('digest')}, but {self._expected_layer} was expected "
                "(the repository index's digest); nothing was downloaded",
            )
        data = client.blob(layer, self._max_size, f"the layer of {tag}")
        return self._store(manifest.digest, media_type, data, tag)

    def _layer(self, manifest: ImageManifest, tag: str) -> dict[str, Any]:
        readable = [layer for layer in manifest.layers if layer.get("mediaType") in self._layer_types]
        if len(readable) != 1:
            present = ", ".join(str(layer.get("mediaType")) for layer in manifest.layers) or "no layers"
            wanted = "none" if not readable else f"{len(readable)}"
            raise self._error(
                SourceError,
                f"{self.url}:{tag} must hold exactly one layer of a readable type ({', '.join(self._layer_types)}); "
                f"it has {wanted} of them among: {present}",
            )
        return readable[0]

    def _store(self, digest: str, media_type: str, data: bytes, tag: str) -> _Stored:
        hexdigest = digest.removeprefix("sha256:")
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(SourceError, f"cannot create the OCI cache {self.cache_dir}: {exc}") from exc
        with self._locked(self.cache_dir / f"{hexdigest}.lock"):
            stored = self._cached(digest)
            if stored is not None:
                return stored  # another fetch stored it while we waited
            target = self.cache_dir / hexdigest
            charts: list[str] = []

            def write(scratch: Path) -> None:
                content = scratch / "content"
                content.mkdir()
                if media_type == HELM_CHART_LAYER:
                    charts.append(unpack_chart(data, content, self._max_size))
                else:
                    unpack_tree(data, content, self._max_size)
                record = {"digest": digest, "mediaType": media_type, "chart": charts[0] if charts else None}
                (scratch / "artifact.json").write_text(json.dumps(record))

            try:
                if target.exists():
                    shutil.rmtree(target)  # not an entry we finished: start again
                publish(target, write, scratch_prefix=f".tmp-{hexdigest}-")
            except UnsafeArchiveError as exc:
                raise self._error(SourceError, f"the layer of {self.url}:{tag} is refused: {exc}") from None
            except OSError as exc:
                raise self._error(SourceError, f"cannot unpack {self.url}:{tag} into {self.cache_dir}: {exc}") from exc
        return _Stored(digest=digest, media_type=media_type, chart=charts[0] if charts else None)

    def _cached(self, digest: str) -> _Stored | None:
        record_file = self.cache_dir / digest.removeprefix("sha256:") / "artifact.json"
        try:
            record = json.loads(record_file.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("digest") != digest:
            return None
        chart = record.get("chart")
        return _Stored(digest=digest, media_type=str(record.get("mediaType")), chart=chart if chart else None)

    def _snapshot(self, stored: _Stored, tag: str) -> Snapshot:
        root = self.cache_dir / stored.digest.removeprefix("sha256:") / "content"
        folder = PurePosixPath(stored.chart, self.path) if stored.chart else PurePosixPath(self.path)
        path = str(folder)
        if not (root / path).is_dir():
            raise PathNotFoundError(
                redact_text(f"{self.url}@{stored.digest} has no folder {self.path!r}", self._secrets),
                url=self.url,
                revision=self.reference,
                path=self.path,
            )
        ref = tag if tag != stored.digest else self.reference
        message = f"{self.repository.repository}:{ref} ({stored.digest})" if ref != stored.digest else stored.digest
        revision = Revision(sha=stored.digest.removeprefix("sha256:"), ref=ref, message=message)
        return Snapshot(revision=revision, root=root, path=path)

    def _locked(self, lock_file: Path) -> contextlib.AbstractContextManager[None]:
        return locked(lock_file, self._lock_timeout, self._lock_error)

    def _lock_error(self, message: str, retryable: bool) -> SourceError:
        return self._error(SourceError, message, retryable=retryable)

    # --------------------------------------------------------------------------------------------- errors

    def _error_from_client(self, error: type[SourceError], message: str, retryable: bool | None) -> SourceError:
        return self._error(error, message, retryable=retryable)

    def _error(self, error: type[_E], message: str, *, retryable: bool | None = None) -> _E:
        return error(redact_text(message, self._secrets), url=self.url, revision=self.reference, retryable=retryable)


_OCI_SETTINGS = frozenset(
    {"insecure", "enableOCI", "insecureOCIForceHttp", "tlsClientCertData", "tlsClientCertKey", "forceHttpBasicAuth"}
)


def _credential(credentials: Credentials | None, repository: OCIReference) -> RepositoryCredential | None:
    """The credential for the repository, written with or without ``oci://`` (Argo CD accepts both)."""
    if credentials is None:
        return None
    bare = f"{repository.registry}/{repository.repository}"
    return credentials.for_url(bare) or credentials.for_url(f"oci://{bare}")


def _reference(reference: str) -> str:
    if not isinstance(reference, str) or not reference.strip():
        raise ConfigurationError.argument("OCISource(reference)", "a tag, version range or sha256: digest", reference)
    text = reference.strip()
    if text.startswith("sha256:") and not DIGEST.fullmatch(text):
        raise ConfigurationError(f"OCISource(reference): {text!r} is not a sha256 digest (64 lower-case hex digits)")
    return text


def _path(path: str) -> str:
    text = (path or ".").strip() or "."
    parts = PurePosixPath(text).parts
    if text.startswith("/") or ".." in parts or "\\" in text:
        raise ConfigurationError(f"OCISource(path): {path!r} must be a relative folder inside the artifact")
    return str(PurePosixPath(text))


def _sort_key(text: str) -> tuple[int, Version]:
    try:
        return (1, Version.parse(text))
    except ValueError:
        return (0, Version(0))
