"""Repository credentials by URL, read from Argo CD's own Secrets, so Applications need none inline.

Argo CD keeps credentials in Secrets labelled ``argocd.argoproj.io/secret-type``: ``repository`` (one
repository, matched by its URL) or ``repo-creds`` (a template, matched by URL prefix: every repository under
``https://git.example.com/team/``). :class:`Credentials` reads the same Secrets, from a file or from a namespace
of a cluster, and answers :meth:`Credentials.for_url`: the repository's own entry when there is one, else the
longest matching prefix, as Argo CD chooses.

Secret values are kept out of every ``repr`` and message; the sources that use them redact them from the
messages of the tools they run.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from reconcile.argocd.annotations import SECRET_TYPE
from reconcile.errors import ConfigurationError, ManifestError
from reconcile.manifests import load_manifests
from reconcile.model import GroupKind, Manifest
from reconcile.protocols import Cluster
from reconcile.redaction import redact_url

__all__ = ["Credentials", "RepositoryCredential"]

_KINDS = ("repository", "repo-creds")
_SECRET = GroupKind("", "Secret")
_CONFIG_MAP = GroupKind("", "ConfigMap")
_TLS_CERTS_CONFIG_MAP = "argocd-tls-certs-cm"  # Argo CD's ConfigMap of CA certificates by server name
_KEYS = frozenset(
    {
        "type",
        "url",
        "name",
        "project",
        "username",
        "password",
        "sshPrivateKey",
        "tlsClientCertData",
        "tlsClientCertKey",
        "insecure",
        "enableOCI",
        "insecureOCIForceHttp",
        "forceHttpBasicAuth",
        "bearerToken",
        "proxy",
        "noProxy",
        "githubAppID",
        "githubAppInstallationID",
        "githubAppPrivateKey",
        "gcpServiceAccountKey",
        "enableLfs",
        "useAzureWorkloadIdentity",
    }
)
_SUPPORTED = frozenset(
    {"type", "url", "name", "project", "username", "password", "sshPrivateKey", "insecure", "enableOCI"}
    | {"insecureOCIForceHttp", "forceHttpBasicAuth", "tlsClientCertData", "tlsClientCertKey", "bearerToken"}
)


def _entries(value: Iterable[RepositoryCredential]) -> tuple[RepositoryCredential, ...]:
    return tuple(value)


def _certs(value: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): str(pem) for name, pem in value.items()}


def _secret(value: Any) -> str | None:
    return None if value is None else str(value)


@attrs.frozen(kw_only=True)
class RepositoryCredential:
    """One entry of Argo CD's repository credentials (a ``repository`` or ``repo-creds`` Secret).

    Attributes:
        url: The repository URL (``repository``) or URL prefix (``repo-creds``).
        prefix: Whether this is a ``repo-creds`` template, matched by prefix.
        type: ``git`` or ``helm``.
        name: The Secret's ``name`` key (informational).
        username: The user name (HTTP basic auth, registries).
        password: The password or token; never shown.
        ssh_private_key: A PEM private key for SSH; never shown.
        bearer_token: A bearer token (some Git hosts); never shown.
        tls_client_cert_data: A PEM client certificate; never shown.
        tls_client_cert_key: Its PEM key; never shown.
        insecure: Skip TLS verification (``insecure``).
        enable_oci: The Helm repository is an OCI registry (``enableOCI``).
        insecure_oci_force_http: Talk plain HTTP to the OCI registry (``insecureOCIForceHttp``).
        force_http_basic_auth: Send basic auth without waiting for a challenge (``forceHttpBasicAuth``).
        origin: Where the entry came from (``file:line`` or ``namespace/name``), for messages.
    """

    url: str = attrs.field(repr=redact_url)
    prefix: bool = False
    type: str = "git"
    name: str | None = None
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    ssh_private_key: str | None = attrs.field(default=None, repr=False)
    bearer_token: str | None = attrs.field(default=None, repr=False)
    tls_client_cert_data: str | None = attrs.field(default=None, repr=False)
    tls_client_cert_key: str | None = attrs.field(default=None, repr=False)
    insecure: bool = False
    enable_oci: bool = False
    insecure_oci_force_http: bool = False
    force_http_basic_auth: bool = False
    origin: str = ""

    def check_usable(self, user: str, *, supports: frozenset[str] = frozenset()) -> None:
        """Refuse settings ``user`` (a source, named in the message) cannot honour, rather than ignore them.

        Args:
            user: The source, for the message.
            supports: The settings (Argo CD's keys) this source applies: OCI sources apply TLS settings and
                ``insecureOCIForceHttp``, HTTP chart repositories TLS settings, Git sources SSH keys.

        Raises:
            ConfigurationError: Naming the entry's origin and the settings.
        """
        unsupported = [
            key
            for key, used in (
                ("insecure", self.insecure),
                ("tlsClientCertData", self.tls_client_cert_data),
                ("tlsClientCertKey", self.tls_client_cert_key),
                ("sshPrivateKey", self.ssh_private_key),
                ("enableOCI", self.enable_oci),
                ("insecureOCIForceHttp", self.insecure_oci_force_http),
            )
            if used and key not in supports
        ]
        if unsupported:
            raise ConfigurationError(
                f"{user}: the repository credential {self.origin or redact_url(self.url)} sets "
                f"{', '.join(unsupported)}, which this source does not apply"
            )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values that must never be shown, for the sources' redaction."""
        values = (self.password, self.ssh_private_key, self.bearer_token, self.tls_client_cert_key)
        return tuple(value for value in values if value)


@attrs.frozen
class Credentials:
    """Repository credentials by URL: Argo CD's ``repository`` and ``repo-creds`` Secrets.

    Give one to :class:`~reconcile.sources.GitSource`, :class:`~reconcile.sources.HelmRepositorySource`,
    :meth:`Application.from_manifest <reconcile.argocd.application.Application.from_manifest>` or the CLI
    (``--repo-creds FILE``); a source's own ``username``/``password`` arguments win over it.

    Attributes:
        entries: The credentials, in the order they were read.
        tls_certs: CA certificates (PEM) to trust by server name, as Argo CD's ``argocd-tls-certs-cm`` ConfigMap
            keeps them (its data keys are host names, optionally with ``:port``).
    """

    entries: tuple[RepositoryCredential, ...] = attrs.field(default=(), converter=_entries)
    tls_certs: Mapping[str, str] = attrs.field(
        factory=dict, converter=_certs, kw_only=True, hash=False, repr=lambda certs: f"<CAs for {sorted(certs)}>"
    )

    @classmethod
    def from_secrets(cls, secrets: Iterable[Manifest], *, origin: str = "") -> Credentials:
        """Credentials from Secret manifests; Secrets without Argo CD's ``secret-type`` label are passed over.

        Raises:
            ConfigurationError: A labelled Secret lacks a ``url``, holds data that is not base64, or a key this
                library does not know (naming the Secret).
        """
        entries = []
        for secret in secrets:
            metadata = secret.get("metadata") or {}
            kind = ((metadata.get("labels") or {}).get(SECRET_TYPE)) if isinstance(metadata, dict) else None
            if secret.get("kind") != "Secret" or kind not in _KINDS:
                continue
            where = origin or f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}".strip("/")
            entries.append(_entry(secret, kind == "repo-creds", where))
        return cls(entries)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Credentials:
        """Credentials from a YAML or JSON file of Secrets (Argo CD's declarative setup), labelled as Argo CD does.

        Raises:
            ConfigurationError: The file cannot be read or parsed, or a Secret is malformed (naming file and line).
        """
        file = os.fspath(path)
        try:
            text = Path(file).read_text(encoding="utf-8")
            documents = load_manifests(text, file=file)
        except OSError as exc:
            raise ConfigurationError(f"cannot read repository credentials {file}: {exc.strerror}") from exc
        except ManifestError as exc:
            raise ConfigurationError(str(exc), file=exc.file, line=exc.line) from exc
        entries: list[RepositoryCredential] = []
        certs: dict[str, str] = {}
        for obj, line in documents:
            entries += cls.from_secrets([obj], origin=f"{file}:{line}").entries
            certs.update(_tls_certs(obj, f"{file}:{line}"))
        return cls(entries, tls_certs=certs)

    @classmethod
    def from_docker_config(cls, path: str | os.PathLike[str]) -> Credentials:
        """Registry credentials from a Docker ``config.json`` (what ``docker login`` and ``helm registry login`` write).

        Each ``auths`` entry becomes an OCI credential for its registry host (a prefix: every repository there).
        Entries without a user name and password are passed over. Credential helpers (``credsStore``,
        ``credHelpers``) are programs; reconcile runs none, so a file that relies on them is refused.

        Raises:
            ConfigurationError: The file cannot be read, is not JSON, names a credential helper, or an ``auth``
                is not base64 of ``user:password`` (naming the file and the registry).
        """
        file = os.fspath(path)
        try:
            document = json.loads(Path(file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"cannot read registry credentials {file}: {exc.strerror}") from exc
        except ValueError as exc:
            raise ConfigurationError(f"{file}: not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise ConfigurationError(f"{file}: a Docker config.json is a JSON object")
        for helper in ("credsStore", "credHelpers"):
            if document.get(helper):
                raise ConfigurationError(
                    f"{file}: {helper} names a credential helper program; reconcile runs no credential helper "
                    "(log in so that config.json holds the auths, or give the credentials as Secrets)"
                )
        auths = document.get("auths") or {}
        if not isinstance(auths, dict):
            raise ConfigurationError(f"{file}: auths must be an object")
        entries = []
        for host, entry in auths.items():
            username, password = _docker_auth(entry, f"{file}: auths.{host}")
            if username is None and password is None:
                continue
            registry = str(host).removeprefix("https://").removeprefix("http://").removeprefix("oci://").rstrip("/")
            if registry in ("index.docker.io/v1", "docker.io"):  # how docker login names Docker Hub
                registry = "registry-1.docker.io"
            entries.append(
                RepositoryCredential(
                    url=registry,
                    prefix=True,
                    type="helm",
                    username=username,
                    password=password,
                    enable_oci=True,
                    origin=f"{file}: auths.{host}",
                )
            )
        return cls(entries)

    @classmethod
    def from_cluster(cls, cluster: Cluster, namespace: str = "argocd") -> Credentials:
        """Credentials from the labelled Secrets of a namespace (where an Argo CD installation keeps them).

        The namespace's ``argocd-tls-certs-cm`` ConfigMap, when there is one, gives the CA certificates.

        Raises:
            ClusterError: The Secrets could not be listed.
            ConfigurationError: A labelled Secret is malformed.
        """
        found = cls.from_secrets(cluster.list(_SECRET, namespace=namespace))
        certs: dict[str, str] = {}
        for config_map in cluster.list(_CONFIG_MAP, namespace=namespace):
            certs.update(_tls_certs(config_map, f"{namespace}/{_TLS_CERTS_CONFIG_MAP}"))
        return cls(found.entries, tls_certs=certs)

    @classmethod
    def combined(cls, *parts: Credentials) -> Credentials:
        """One registry of several (Secrets and a Docker ``config.json``, say); later CAs for a host win."""
        entries = [entry for part in parts for entry in part.entries]
        certs = {host: pem for part in parts for host, pem in part.tls_certs.items()}
        return cls(entries, tls_certs=certs)

    def ca_for_host(self, host: str) -> str | None:
        """The CA certificates (PEM) to trust for ``host`` (``name`` or ``name:port``), from ``tls_certs``."""
        wanted = host.lower()
        return self.tls_certs.get(wanted) or self.tls_certs.get(wanted.rsplit(":", 1)[0] if ":" in wanted else wanted)

    def for_url(self, url: str) -> RepositoryCredential | None:
        """The credential for ``url``: its ``repository`` entry, else the ``repo-creds`` with the longest prefix."""
        wanted = _normalized(url)
        for entry in self.entries:
            if not entry.prefix and _normalized(entry.url) == wanted:
                return entry
        templates = [entry for entry in self.entries if entry.prefix and url.startswith(entry.url)]
        return max(templates, key=lambda entry: len(entry.url), default=None)

    def __len__(self) -> int:
        return len(self.entries)


def _entry(secret: Manifest, prefix: bool, where: str) -> RepositoryCredential:
    data = _data(secret, where)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown repository credential keys {', '.join(unknown)}")
    unsupported = sorted(set(data) - _SUPPORTED)
    if unsupported:
        raise ConfigurationError(f"{where}: repository credential keys not supported yet: {', '.join(unsupported)}")
    url = data.get("url")
    if not url:
        raise ConfigurationError(f"{where}: a repository credential needs a url")
    kind = data.get("type") or "git"
    if kind not in ("git", "helm"):
        raise ConfigurationError(f"{where}: type must be git or helm, not {kind!r}")
    return RepositoryCredential(
        url=url,
        prefix=prefix,
        type=kind,
        name=data.get("name"),
        username=data.get("username"),
        password=_secret(data.get("password")),
        ssh_private_key=_secret(data.get("sshPrivateKey")),
        bearer_token=_secret(data.get("bearerToken")),
        tls_client_cert_data=_secret(data.get("tlsClientCertData")),
        tls_client_cert_key=_secret(data.get("tlsClientCertKey")),
        insecure=_flag(data, "insecure", where),
        enable_oci=_flag(data, "enableOCI", where),
        insecure_oci_force_http=_flag(data, "insecureOCIForceHttp", where),
        force_http_basic_auth=_flag(data, "forceHttpBasicAuth", where),
        origin=where,
    )


def _data(secret: Manifest, where: str) -> dict[str, str]:
    """``data`` decoded from base64, overridden by ``stringData``, as the API server merges them."""
    values: dict[str, str] = {}
    encoded = secret.get("data") or {}
    if not isinstance(encoded, Mapping):
        raise ConfigurationError(f"{where}: data must be a mapping")
    for key, value in encoded.items():
        try:
            values[str(key)] = base64.b64decode(str(value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigurationError(f"{where}: data.{key} is not base64 of UTF-8 text") from None
    plain = secret.get("stringData") or {}
    if not isinstance(plain, Mapping):
        raise ConfigurationError(f"{where}: stringData must be a mapping")
    values.update({str(key): str(value) for key, value in plain.items()})
    return values


def _flag(data: Mapping[str, str], key: str, where: str) -> bool:
    value = data.get(key, "false").strip().lower()
    if value not in ("true", "false"):
        raise ConfigurationError(f"{where}: {key} must be true or false")
    return value == "true"


def _normalized(url: str) -> str:
    """A URL as Argo CD compares repository URLs: lower case, no trailing slash or ``.git``."""
    text = url.strip().lower().rstrip("/")
    return text.removesuffix(".git")


def _docker_auth(entry: object, where: str) -> tuple[str | None, str | None]:
    """``(username, password)`` of a ``config.json`` auths entry: its ``auth`` (base64), else its fields."""
    if not isinstance(entry, Mapping):
        raise ConfigurationError(f"{where} must be an object")
    encoded = entry.get("auth")
    if encoded:
        try:
            username, sep, password = base64.b64decode(str(encoded), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if not sep:
            raise ConfigurationError(f"{where}.auth is not base64 of user:password") from None
        return username, password
    if entry.get("identitytoken"):
        raise ConfigurationError(f"{where}.identitytoken: OAuth identity tokens are not supported; use a password")
    user = entry.get("username")
    return (None if user is None else str(user)), _secret(entry.get("password"))


def _tls_certs(obj: Manifest, where: str) -> dict[str, str]:
    """The CA certificates of Argo CD's ``argocd-tls-certs-cm`` ConfigMap; nothing from any other object."""
    metadata = obj.get("metadata") or {}
    if obj.get("kind") != "ConfigMap" or not isinstance(metadata, Mapping):
        return {}
    if metadata.get("name") != _TLS_CERTS_CONFIG_MAP:
        return {}
    data = obj.get("data") or {}
    if not isinstance(data, Mapping) or not all(isinstance(value, str) for value in data.values()):
        raise ConfigurationError(f"{where}: {_TLS_CERTS_CONFIG_MAP} data must map server names to PEM certificates")
    for name, value in data.items():
        if "-----BEGIN CERTIFICATE-----" not in value:
            raise ConfigurationError(f"{where}: {_TLS_CERTS_CONFIG_MAP} data.{name} holds no PEM certificate")
    return {str(name).lower(): value for name, value in data.items()}
