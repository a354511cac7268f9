"""The OCI distribution API, through ``oras`` (and ``requests``, which it is built on): the one adapter for both.

What reconcile needs of a registry is small: a manifest by tag or digest, the tag list, and a blob by digest.
``oras`` names the endpoints and performs the bearer-token exchange of the ``WWW-Authenticate`` challenge (the
anonymous token, or the token a user name and password buy). Everything that must not be left to a library's
defaults is done here, at the boundary:

- **No waiting and no global state.** ``oras`` retries failed requests with sleeps of up to 80 s and reads the
  user's ``~/.docker/config.json``; :class:`_Registry` replaces its request method, so one request is made, one
  more after a challenge, and the credentials are only those given.
- **Verified bytes.** A manifest asked for by digest must hash to it; one asked for by tag must hash to the
  ``Docker-Content-Digest`` the registry claims. Blobs are streamed within a size limit and must hash to their
  digest before anyone reads them.
- **Bounded answers.** Manifests are read up to 4 MiB, tag lists up to a number of tags, every body with a
  size limit and every download within a time limit, so a hostile registry cannot exhaust memory or time.
- **Credentials stay home.** ``requests`` drops the ``Authorization`` header when a redirect leaves the host
  (blob storage on another host gets no credentials); a challenge that keeps answering 401 ends after one retry.
- **Typed errors.** Network failures are :class:`~reconcile.errors.RepositoryUnreachableError` (retryable), 401
  and 403 :class:`~reconcile.errors.AuthenticationError`, unknown tags
  :class:`~reconcile.errors.RevisionNotFoundError`, anything else a :class:`~reconcile.errors.SourceError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import attrs
import oras.auth
import oras.auth.utils
import oras.container
import oras.provider
import requests
import requests.adapters
import requests.exceptions

from reconcile.errors import (
    AuthenticationError,
    ConfigurationError,
    RepositoryUnreachableError,
    RevisionNotFoundError,
    SourceError,
)
from reconcile.redaction import redact_url

__all__ = [
    "DIGEST",
    "Access",
    "ImageManifest",
    "OCIReference",
    "RegistryClient",
    "check_tag",
]

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
"""An OCI digest reconcile accepts (SHA-256, the only algorithm registries use in practice)."""

_MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_MAX_MANIFEST = 4 * 1024 * 1024  # containerd's limit
_MAX_TAG_PAGE = 16 * 1024 * 1024
_CHUNK = 1 << 16
_REPOSITORY = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_ErrorFactory = Callable[[type[SourceError], str, bool | None], SourceError]


@attrs.frozen
class OCIReference:
    """A repository in a registry: ``oci://registry.example.com:5000/charts/web`` or without the scheme.

    Attributes:
        registry: The registry's host and port.
        repository: The repository's path in it.
    """

    registry: str
    repository: str

    @classmethod
    def parse(cls, url: str, *, argument: str = "url") -> OCIReference:
        """Read ``oci://host/path`` or ``host/path`` (Argo CD's ``repoURL`` for OCI Helm repositories).

        Raises:
            ConfigurationError: The URL has another scheme, credentials, a tag or digest, or is not a repository.
        """
        if not isinstance(url, str) or not url.strip():
            raise ConfigurationError.argument(argument, "an OCI repository (oci://host/path)", url)
        text = url.strip().removeprefix("oci://").rstrip("/")
        shown = redact_url(url.strip())
        if "://" in text:
            raise ConfigurationError(f"{argument}: {shown!r} is not an OCI repository (oci://host/path)")
        if "@" in text.split("/", 1)[0]:
            raise ConfigurationError(
                f"{argument}: {shown!r} holds credentials; give them as credentials, never in the URL"
            )
        host, _, path = text.partition("/")
        if not _HOST.fullmatch(host) or not path:
            raise ConfigurationError(f"{argument}: {shown!r} is not an OCI repository (oci://host/path)")
        if "@" in path or ":" in path:
            raise ConfigurationError(
                f"{argument}: {shown!r} names a tag or digest; give the repository here and the tag or digest as "
                "the revision"
            )
        if not _REPOSITORY.fullmatch(path):
            raise ConfigurationError(
                f"{argument}: {path!r} is not a repository name (lower case letters, digits, '.', '_', '-', '/')"
            )
        return cls(host.lower(), path)

    def child(self, name: str) -> OCIReference:
        """The repository ``name`` below this one (a chart in a registry path)."""
        return OCIReference.parse(f"{self.url}/{name}")

    @property
    def url(self) -> str:
        """``oci://registry/repository``."""
        return f"oci://{self.registry}/{self.repository}"

    def __str__(self) -> str:
        return self.url


@attrs.frozen(kw_only=True)
class Access:
    """How to reach a registry: credentials and transport. Secrets are kept out of ``repr``.

    Attributes:
        username: With ``password``: basic auth, or what buys a bearer token.
        password: The password or token.
        token: A bearer token sent as it is (registries that issue long-lived tokens).
        force_basic_auth: Send the user name and password with the first request instead of waiting for a
            challenge (Argo CD's ``forceHttpBasicAuth``).
        plain_http: Talk HTTP instead of HTTPS (only ever when asked).
        verify_tls: Check the registry's certificate (``False`` is Argo CD's ``insecure``).
        ca_file: A PEM bundle of the CAs to trust instead of the system's.
        ca_pem: The same as text (from Argo CD's ``argocd-tls-certs-cm``), when there is no ``ca_file``.
        client_cert: A PEM client certificate (its text), with ``client_key``.
        client_key: Its PEM private key.
        timeout: Seconds a request may wait for the network, and a download may take in all.
        proxy: ``None`` connects directly, ``True`` honours the ``*_proxy`` environment variables, a string is the
            proxy URL.
    """

    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    force_basic_auth: bool = False
    plain_http: bool = False
    verify_tls: bool = True
    ca_file: str | None = None
    ca_pem: str | None = None
    client_cert: str | None = attrs.field(default=None, repr=False)
    client_key: str | None = attrs.field(default=None, repr=False)
    timeout: float = 90.0
    proxy: str | Literal[True] | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values to scrub from every message."""
        return tuple(value for value in (self.password, self.token, self.client_key) if value)


@attrs.frozen(kw_only=True)
class ImageManifest:
    """An image manifest, verified against its digest.

    Attributes:
        digest: ``sha256:<hex>`` of the manifest's bytes.
        media_type: The manifest's media type.
        artifact_type: The config's media type (or ``artifactType``): what kind of artifact this is.
        layers: The layers' descriptors, as the manifest lists them.
    """

    digest: str
    media_type: str
    artifact_type: str
    layers: tuple[dict[str, Any], ...]


class _TimeoutAdapter(requests.adapters.HTTPAdapter):
    """Gives every request a timeout, those ``oras`` makes itself (the token service) included."""

    def __init__(self, timeout: float) -> None:
        super().__init__(max_retries=0)
        self._timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().send(request, **kwargs)


class _Registry(oras.provider.Registry):  # type: ignore[misc]
    """``oras``'s registry client with one request per call (no sleeping retries) and our credentials only."""

    def __init__(self, access: Access, requests_made: list[str], verify: bool | str) -> None:
        super().__init__(insecure=access.plain_http, tls_verify=verify)
        self._access = access
        self._requests_made = requests_made
        self._authorization: str | None = f"Bearer {access.token}" if access.token else None
        self.session.trust_env = False  # no ~/.netrc, no REQUESTS_CA_BUNDLE: only what the caller gave
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, _TimeoutAdapter(access.timeout))
        if access.proxy is True:
            self.session.proxies.update(urllib.request.getproxies())
        elif isinstance(access.proxy, str):
            self.session.proxies.update({"http": access.proxy, "https": access.proxy})
        if access.username is not None or access.password is not None:
            self.auth.set_basic_auth(access.username or "", access.password or "")
            if access.force_basic_auth and self._authorization is None:
                self._authorization = f"Basic {self.auth._basic_auth}"

    def do_request(  # noqa: PLR0917 - oras's own signature
        self,
        url: str,
        method: str = "GET",
        data: dict[str, Any] | bytes | None = None,
        headers: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send once; after a 401 with a challenge we can answer, send once more with the answer."""
        response = self._send(url, method, dict(headers or {}), stream)
        if response.status_code != 401:  # noqa: PLR2004
            return response
        authorization = self._answer(response.headers.get("WWW-Authenticate", ""))
        if authorization is None or authorization == self._authorization:
            return response  # nothing new to offer: the caller reports the 401
        response.close()
        self._authorization = authorization
        return self._send(url, method, dict(headers or {}), stream)

    def _send(self, url: str, method: str, headers: dict[str, str], stream: bool) -> requests.Response:
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        headers.setdefault("User-Agent", "reconcile")
        self._requests_made.append(f"{method} {url}")
        session: requests.Session = self.session  # oras is untyped
        return session.request(
            method, url, headers=headers, stream=stream, verify=self._tls_verify, timeout=self._access.timeout
        )

    def _answer(self, challenge: str) -> str | None:
        """The ``Authorization`` value that answers ``challenge``, or ``None`` when we have none to give."""
        scheme = challenge.split(" ", 1)[0].strip().lower()
        has_password = self._access.username is not None or self._access.password is not None
        if scheme == "basic":
            return f"Basic {self.auth._basic_auth}" if has_password else None
        if scheme != "bearer":
            return None
        header = oras.auth.utils.parse_auth_header(challenge)
        if not header.realm or not str(header.realm).lower().startswith(("http://", "https://")):
            return None
        self._requests_made.append(f"GET {header.realm} (token)")
        token = self.auth.request_token(header) if has_password else self.auth.request_anonymous_token(header)
        return f"Bearer {token}" if token else None


class RegistryClient:
    """One repository of one registry, for the length of a ``with`` block.

    Args:
        reference: The repository.
        access: Credentials and transport.
        error: Makes the caller's error (its type, message, retryable); the caller names itself and scrubs its
            secrets.
    """

    def __init__(self, reference: OCIReference, access: Access, error: _ErrorFactory) -> None:
        self.reference = reference
        self.requests_made: list[str] = []
        self._access = access
        self._error = error
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._registry: _Registry | None = None
        self._container = oras.container.Container(reference.repository, registry=reference.registry)
        if self._container.api_prefix != reference.repository:  # pragma: no cover - our repository grammar is oras's
            raise ConfigurationError(f"oras reads {reference} as {self._container.api_prefix}")

    def __enter__(self) -> Self:
        access = self._access
        if bool(access.client_cert) != bool(access.client_key):
            raise ConfigurationError(f"{self.reference}: a client certificate needs both the certificate and key")
        verify: bool | str = access.ca_file or access.verify_tls
        if access.client_cert or (access.ca_pem and not access.ca_file):
            # requests reads certificates from files: a private folder for the client's lifetime.
            self._folder = tempfile.TemporaryDirectory(prefix="reconcile-tls-")
            folder = Path(self._folder.name)
            if access.ca_pem and not access.ca_file and access.verify_tls:
                verify = str(_private_file(folder / "ca.crt", access.ca_pem))
        self._registry = _Registry(access, self.requests_made, verify)
        if access.client_cert and access.client_key and self._folder is not None:
            folder = Path(self._folder.name)
            cert = _private_file(folder / "client.crt", access.client_cert)
            key = _private_file(folder / "client.key", access.client_key)
            self._registry.session.cert = (str(cert), str(key))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._registry is not None:
            self._registry.session.close()
        if self._folder is not None:
            self._folder.cleanup()
        self._registry = self._folder = None

    # ------------------------------------------------------------------------------------------------- API

    def manifest(self, reference: str) -> ImageManifest:
        """The image manifest for a tag or ``sha256:`` digest, verified against its digest.

        Raises:
            RevisionNotFoundError: The registry has no such tag or digest.
            SourceError: The manifest is an index (several platforms), malformed, too large, or its bytes do not
                match the digest.
        """
        url = self._url(self._container.manifest_url(reference))
        accept = ", ".join(_MANIFEST_TYPES + _INDEX_TYPES)
        with self._get(url, f"the manifest {reference}", headers={"Accept": accept}) as response:
            if response.status_code == 404:  # noqa: PLR2004
                raise self._fail(RevisionNotFoundError, f"{self.reference} has no tag or digest {reference!r}")
            self._check(response, f"the manifest {reference}")
            data = self._read(response, _MAX_MANIFEST, f"the manifest {reference}")
            claimed = response.headers.get("Docker-Content-Digest")
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        expected = reference if DIGEST.fullmatch(reference) else claimed
        if expected is not None and expected != digest:
            raise self._fail(
                SourceError,
                f"the manifest {reference} of {self.reference} has digest {digest}, but "
                f"{'was asked for by' if expected == reference else 'the registry says'} {expected}; it was discarded",
            )
        return self._parse_manifest(data, digest, reference)

    def tags(self, limit: int) -> list[str]:
        """Every tag of the repository, following the registry's pages, at most ``limit`` of them.

        Raises:
            SourceError: The repository has more than ``limit`` tags, or a page is malformed or too large.
        """
        url = self._url(self._container.tags_url())
        found: list[str] = []
        while url:
            with self._get(url, "the tag list") as response:
                if response.status_code == 404:  # noqa: PLR2004
                    raise self._fail(RevisionNotFoundError, f"{self.reference} does not exist in the registry")
                self._check(response, "the tag list")
                data = self._read(response, _MAX_TAG_PAGE, "the tag list")
                following = response.links.get("next", {}).get("url")
            try:
                page = json.loads(data).get("tags") or []
            except (ValueError, AttributeError):
                raise self._fail(SourceError, f"the tag list of {self.reference} is not JSON") from None
            if not isinstance(page, list) or not all(isinstance(tag, str) for tag in page):
                raise self._fail(SourceError, f"the tag list of {self.reference} is not a list of strings")
            found += page
            if len(found) > limit:
                raise self._fail(
                    SourceError,
                    f"{self.reference} has more than {limit} tags; name an exact tag or digest, or raise max_tags",
                )
            url = urllib.parse.urljoin(url, following) if following and page else ""
        return found

    def blob(self, descriptor: dict[str, Any], limit: int, what: str) -> bytes:
        """The blob a layer descriptor names, read within ``limit`` bytes and verified against its digest.

        Raises:
            SourceError: The blob is over the limit, missing, or its bytes do not match the digest.
        """
        digest = str(descriptor.get("digest") or "")
        if not DIGEST.fullmatch(digest):
            raise self._fail(SourceError, f"{what} in {self.reference} has no sha256 digest ({digest!r})")
        size = descriptor.get("size")
        if isinstance(size, int) and size > limit:
            raise self._fail(SourceError, f"{what} in {self.reference} is {size} bytes, over the limit of {limit}")
        url = self._url(self._container.get_blob_url(digest))
        with self._get(url, what, stream=True) as response:
            if response.status_code == 404:  # noqa: PLR2004
                raise self._fail(SourceError, f"{what} ({digest}) is missing from {self.reference}")
            self._check(response, what)
            data = self._read(response, limit, what)
        actual = "sha256:" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise self._fail(
                SourceError, f"{what} from {self.reference} has digest {actual}, not {digest}; it was discarded"
            )
        return data

    # ---------------------------------------------------------------------------------------------- helpers

    def _url(self, path: str) -> str:
        return f"{'http' if self._access.plain_http else 'https'}://{path}"

    def _get(
        self, url: str, what: str, *, headers: dict[str, str] | None = None, stream: bool = True
    ) -> requests.Response:
        if self._registry is None:  # pragma: no cover - a programming error
            raise RuntimeError("use RegistryClient in a with block")
        try:
            response: requests.Response = self._registry.do_request(url, "GET", headers=headers, stream=stream)
        except requests.exceptions.SSLError as exc:
            raise self._fail(
                RepositoryUnreachableError,
                f"TLS with {self.reference.registry} failed for {what}: {_reason(exc)}",
                retryable=False,
            ) from None
        except requests.exceptions.RequestException as exc:
            raise self._fail(
                RepositoryUnreachableError, f"cannot reach {self.reference.registry} for {what}: {_reason(exc)}"
            ) from None
        except (ValueError, KeyError) as exc:  # a malformed token answer
            raise self._fail(
                AuthenticationError, f"the token service of {self.reference.registry} answered badly: {exc}"
            ) from None
        return response

    def _check(self, response: requests.Response, what: str) -> None:
        status = response.status_code
        if status in (401, 403):
            given = self._access.username is not None or self._access.password is not None or self._access.token
            raise self._fail(
                AuthenticationError,
                f"{self.reference} refused the credentials for {what} (HTTP {status})"
                if given
                else f"{self.reference} requires credentials for {what} (HTTP {status}) and none were given",
            )
        if status != 200:  # noqa: PLR2004
            raise self._fail(
                RepositoryUnreachableError if status >= 500 or status == 429 else SourceError,  # noqa: PLR2004
                f"cannot get {what} from {self.reference}: HTTP {status} {response.reason}",
            )

    def _read(self, response: requests.Response, limit: int, what: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise self._fail(SourceError, f"{what} in {self.reference} is {declared} bytes, over the limit of {limit}")
        deadline = time.monotonic() + self._access.timeout
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in _chunks(response):
                total += len(chunk)
                if total > limit:
                    raise self._fail(SourceError, f"{what} in {self.reference} is over the limit of {limit} bytes")
                if time.monotonic() > deadline:
                    raise self._fail(
                        RepositoryUnreachableError, f"downloading {what} took over {self._access.timeout:g} s"
                    )
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:
            raise self._fail(
                RepositoryUnreachableError, f"reading {what} from {self.reference.registry} failed: {_reason(exc)}"
            ) from None
        return b"".join(chunks)

    def _parse_manifest(self, data: bytes, digest: str, reference: str) -> ImageManifest:
        where = f"the manifest {reference} of {self.reference}"
        try:
            document = json.loads(data)
        except ValueError:
            raise self._fail(SourceError, f"{where} is not JSON") from None
        if not isinstance(document, dict):
            raise self._fail(SourceError, f"{where} is not a JSON object")
        media_type = str(document.get("mediaType") or _MANIFEST_TYPES[0])
        if media_type in _INDEX_TYPES or "manifests" in document:
            raise self._fail(
                SourceError,
                f"{where} is an index of several manifests (a multi-platform image); name one of them by digest",
            )
        layers, config = document.get("layers"), document.get("config")
        if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
            raise self._fail(SourceError, f"{where} has no list of layers")
        config_type = config.get("mediaType") if isinstance(config, dict) else None
        artifact_type = str(document.get("artifactType") or config_type or "")
        return ImageManifest(digest=digest, media_type=media_type, artifact_type=artifact_type, layers=tuple(layers))

    def _fail(self, error: type[SourceError], message: str, *, retryable: bool | None = None) -> SourceError:
        return self._error(error, message, retryable)


def _chunks(response: requests.Response) -> Iterator[bytes]:
    yield from response.iter_content(chunk_size=_CHUNK)


def _reason(exc: BaseException) -> str:
    """The innermost cause's words, without ``requests``' repetition of the pool and URL."""
    while exc.__context__ is not None and isinstance(exc.__context__, OSError | requests.exceptions.RequestException):
        exc = exc.__context__
    text = str(exc.args[0] if exc.args else exc)
    return text.split(": ", 1)[-1] if "Max retries exceeded" in text else text


def check_tag(tag: str, argument: str) -> str:
    """``tag`` when it can be an OCI tag; Helm versions with ``+`` become ``_`` as ``helm push`` writes them."""
    wanted = tag.replace("+", "_")
    if not _TAG.fullmatch(wanted):
        raise ConfigurationError(f"{argument}: {tag!r} is neither an OCI tag, a sha256: digest nor a version range")
    return wanted


def _private_file(path: Path, text: str) -> Path:
    """Write ``text`` to a new file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path
