"""Remote chart dependencies, fetched at the source stage so that rendering stays offline.

A chart's ``Chart.yaml`` (or a v1 chart's ``requirements.yaml``) may name dependencies in chart repositories
(``repository: https://charts.example.com``), in OCI registries (``oci://registry.example.com/charts``), or in
repositories configured by name (``@name``, ``alias:name``). Argo CD runs ``helm dependency build`` before it
renders; reconcile never lets helm reach the network. :class:`ChartDependencies` wraps a source instead. It
fetches each remote dependency the chart does not vendor in ``charts/`` with
:class:`~reconcile.sources.HelmRepositorySource` or :class:`~reconcile.sources.OCISource`: the version range is
resolved as helm resolves it (pinned by ``Chart.lock`` when there is one), the archive is verified against the
index's or the manifest's digest and unpacked safely. It then lays the dependencies into a private copy of the
snapshot's ``charts/``, cached by the revision and the dependencies' digests, so the checkout itself is never
modified. ``file://`` dependencies and vendored charts are left to the renderer. A chart with no remote
dependency comes back untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from reconcile.errors import ConfigurationError, ManifestError, SourceError
from reconcile.manifests import load_manifests
from reconcile.model import Snapshot
from reconcile.protocols import Source
from reconcile.redaction import redact_url
from reconcile.sources._cache import cache_folder, locked, publish
from reconcile.sources._credentials import Credentials
from reconcile.sources._helm_repository import HelmRepositorySource
from reconcile.sources._oci_source import OCISource

__all__ = ["ChartDependencies"]

_ARCHIVE_NAME = re.compile(r"(.+?)-v?\d[^-]*(?:-[^-]+)*\.tgz$")  # name-1.2.3.tgz (names may hold '-')


@attrs.frozen(kw_only=True)
class _Dependency:
    name: str
    version: str
    repository: str


@attrs.frozen
class ChartDependencies:
    """A source whose chart gets its remote dependencies before anything renders it.

    Attributes:
        inner: The source of the chart (a Git repository, a folder, a chart repository).
        credentials: Repository credentials by URL, for the dependencies' repositories.
        repositories: Repository URLs by name, for dependencies written ``@name`` or ``alias:name``.
        cache_dir: Where the copies with their dependencies live; default
            ``<user cache dir>/reconcile/chart-dependencies``.
        lock_timeout: Seconds to wait for another fetch preparing the same copy.
    """

    inner: Source
    credentials: Credentials | None = attrs.field(default=None, kw_only=True)
    repositories: Mapping[str, str] = attrs.field(factory=dict, kw_only=True)
    cache_dir: Path = attrs.field(
        factory=lambda: cache_folder(None, "chart-dependencies"), converter=Path, kw_only=True
    )
    lock_timeout: float | None = attrs.field(default=600.0, kw_only=True)

    def fetch(self) -> Snapshot:
        """The inner snapshot, with the chart's remote dependencies laid into a private copy's ``charts/``.

        Raises:
            SourceError: The inner source failed, or a dependency could not be fetched (naming the chart, the
                dependency and its repository; retryable when the network failed).
            ConfigurationError: A dependency names a repository that is not configured, or one that cannot work.
        """
        snapshot = self.inner.fetch()
        chart = snapshot.directory
        label = snapshot.path if snapshot.path != "." else "the chart"
        if not (chart / "Chart.yaml").is_file():
            return snapshot
        wanted = self._remote(chart, label)
        if not wanted:
            return snapshot
        fetched = [(dependency, self._fetch(dependency, label)) for dependency in wanted]
        digest = hashlib.sha256(
            json.dumps([snapshot.revision.sha, snapshot.path, [s.revision.sha for _, s in fetched]]).encode()
        ).hexdigest()[:40]
        target = self.cache_dir / digest
        if not target.is_dir():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with locked(self.cache_dir / f"{digest}.lock", self.lock_timeout, self._lock_error):
                if not target.is_dir():
                    publish(target, lambda scratch: _lay_out(snapshot, fetched, scratch), scratch_prefix=".tmp-")
        return Snapshot(revision=snapshot.revision, root=target, path=snapshot.path)

    def _remote(self, chart: Path, label: str) -> list[_Dependency]:
        """The dependencies to fetch: remote ones the chart does not vendor, pinned by ``Chart.lock`` if present."""
        present = _vendored_names(chart / "charts")
        locked_versions = {
            str(item.get("name")): str(item.get("version"))
            for item in _read(chart / "Chart.lock", label).get("dependencies") or ()
            if isinstance(item, dict)
        }
        wanted: dict[str, _Dependency] = {}
        for item in _declared(chart, label):
            name = str(item.get("name") or "")
            repository = str(item.get("repository") or "")
            if not name or name in present or not repository or repository.startswith("file://"):
                continue  # vendored, local or unnamed: the renderer's business
            url = self._url(repository, name, label)
            version = locked_versions.get(name) or str(item.get("version") or "*")
            wanted.setdefault(name, _Dependency(name=name, version=version, repository=url))
        return list(wanted.values())

    def _url(self, repository: str, name: str, label: str) -> str:
        if repository.startswith(("@", "alias:")):
            key = repository.removeprefix("@").removeprefix("alias:")
            if key not in self.repositories:
                known = ", ".join(sorted(self.repositories)) or "none"
                raise ConfigurationError(
                    f"{label}: dependency {name!r} names the repository {repository!r}, which is not configured "
                    f"(repositories: {known})"
                )
            return self.repositories[key]
        return repository

    def _fetch(self, dependency: _Dependency, label: str) -> Snapshot:
        try:
            if dependency.repository.startswith("oci://"):
                # helm: the chart is the repository's child, its version a tag or a range over the tags.
                return OCISource(
                    f"{dependency.repository.rstrip('/')}/{dependency.name}",
                    dependency.version,
                    credentials=self.credentials,
                    cache_dir=self.cache_dir / "oci",
                ).fetch()
            return HelmRepositorySource(
                dependency.repository,
                dependency.name,
                dependency.version,
                credentials=self.credentials,
                cache_dir=self.cache_dir / "charts",
            ).fetch()
        except ConfigurationError as exc:
            raise ConfigurationError(f"{label}: dependency {dependency.name!r}: {exc}") from None
        except SourceError as exc:
            where = f"{label}: dependency {dependency.name!r} {dependency.version} from "
            raise type(exc)(
                f"{where}{redact_url(dependency.repository)}: {exc.message}",
                url=exc.url,
                revision=exc.revision,
                retryable=exc.retryable,
            ) from exc

    def _lock_error(self, message: str, retryable: bool) -> SourceError:
        return SourceError(message, retryable=retryable)


def _lay_out(snapshot: Snapshot, fetched: list[tuple[_Dependency, Snapshot]], scratch: Path) -> None:
    """Copy the snapshot's tree (links kept as links, for the renderer to judge) and add the dependencies."""
    shutil.copytree(snapshot.root, scratch, symlinks=True, dirs_exist_ok=True)
    charts = scratch / snapshot.path / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    for dependency, chart in fetched:
        shutil.copytree(chart.directory, charts / dependency.name, symlinks=True)


def _declared(chart: Path, label: str) -> list[dict[str, Any]]:
    """Dependencies from ``Chart.yaml`` (apiVersion v2) or ``requirements.yaml`` (v1 charts)."""
    found = _read(chart / "Chart.yaml", label).get("dependencies")
    if not found:
        found = _read(chart / "requirements.yaml", label).get("dependencies")
    return [item for item in found or () if isinstance(item, dict)]


def _read(file: Path, label: str) -> dict[str, Any]:
    if not file.is_file():
        return {}
    shown = f"{label}/{file.name}"
    try:
        documents = load_manifests(file.read_bytes(), file=shown)
    except ManifestError as exc:
        raise SourceError(str(exc)) from exc
    except OSError as exc:
        raise SourceError(f"cannot read {shown}: {exc.strerror}") from exc
    return documents[0][0] if documents else {}


def _vendored_names(charts: Path) -> set[str]:
    """The charts a ``charts/`` folder already holds: unpacked folders by name, archives by file name."""
    names: set[str] = set()
    if not charts.is_dir():
        return names
    for entry in charts.iterdir():
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            names.add(str(_read(entry / "Chart.yaml", os.fspath(entry)).get("name") or entry.name))
        elif entry.name.endswith(".tgz"):
            match = _ARCHIVE_NAME.match(entry.name)
            names.add(match.group(1) if match else entry.name.removesuffix(".tgz"))
    return names
