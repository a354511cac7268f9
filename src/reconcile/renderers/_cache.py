"""Render once per input: a render cache keyed by what the output depends on.

A render depends on the files it reads, the renderer's configuration and tool version, and the cluster version
it targets. :class:`CachingRenderer` keys each render by the commit (or, with ``generate_paths``, by the content
of just the paths that matter, like Argo CD's ``argocd.argoproj.io/manifest-generate-paths``), the application
path, the renderer's :meth:`fingerprint` and the cluster version, so an unchanged input never runs a tool again.
Entries live in memory (least recently used first out) and, optionally, as JSON files in a folder.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, cast, runtime_checkable

import attrs

from reconcile.errors import ConfigurationError, PathEscapeError
from reconcile.model import Capabilities, Location, Resource, Snapshot
from reconcile.protocols import ClusterAwareRenderer


@runtime_checkable
class FingerprintedRenderer(Protocol):
    """A renderer that can say, as text, everything its output depends on besides the files."""

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """The objects of ``snapshot``."""
        ...

    def fingerprint(self) -> str:
        """Its configuration and tool version, stable across runs."""
        ...


class RenderCache:
    """Rendered objects by key: in memory up to ``max_entries``, and in ``directory`` when given.

    Thread-safe; one cache can serve many applications.

    Attributes:
        hits: Renders served from the cache.
        misses: Renders that had to run.
    """

    def __init__(self, max_entries: int = 128, directory: str | os.PathLike[str] | None = None) -> None:
        if max_entries < 1:
            raise ConfigurationError(f"a render cache needs room for at least one entry, not {max_entries}")
        self.max_entries = max_entries
        self.directory = Path(directory) if directory is not None else None
        self.hits = 0
        self.misses = 0
        self._entries: collections.OrderedDict[str, tuple[Resource, ...]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Resource, ...] | None:
        """The objects stored under ``key``, or ``None``."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
        found = self._read(key)
        with self._lock:
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._remember(key, found)
            return found

    def put(self, key: str, resources: Sequence[Resource]) -> None:
        """Store ``resources`` under ``key`` (and on disk when the cache has a folder)."""
        stored = tuple(resources)
        with self._lock:
            self._remember(key, stored)
        self._write(key, stored)

    def _remember(self, key: str, resources: tuple[Resource, ...]) -> None:
        self._entries[key] = resources
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def _path(self, key: str) -> Path | None:
        return self.directory / f"{key}.json" if self.directory is not None else None

    def _read(self, key: str) -> tuple[Resource, ...] | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
            return tuple(
                Resource.from_manifest(entry["manifest"], Location(entry["file"], entry["line"])) for entry in entries
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # unreadable or from another version: render again

    def _write(self, key: str, resources: tuple[Resource, ...]) -> None:
        path = self._path(key)
        if path is None:
            return
        entries = [
            {
                "manifest": r.manifest,
                "file": r.source.file if r.source else "",
                "line": r.source.line if r.source else None,
            }
            for r in resources
        ]
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(entries), encoding="utf-8")
        temporary.replace(path)  # atomic: a reader sees the old entry or the new one, never half of one


def _tuple(paths: Sequence[str]) -> tuple[str, ...]:
    return tuple(paths)


@attrs.frozen(kw_only=True)
class CachingRenderer:
    """Wraps a renderer so each distinct input renders once.

    Attributes:
        inner: The renderer; it must have ``fingerprint()``.
        cache: Where renders are kept (share one between applications).
        generate_paths: Paths whose content decides the render, relative to the application folder (``.`` is
            the folder itself, a leading ``/`` the repository root), as Argo CD's manifest-generate-paths: a new
            commit that changes none of them reuses the previous render. Empty: every new commit renders again.
        cluster_version: The Kubernetes version the render targets (a renderer may depend on it).
    """

    inner: FingerprintedRenderer
    cache: RenderCache = attrs.field(factory=RenderCache)
    generate_paths: tuple[str, ...] = attrs.field(default=(), converter=_tuple)
    cluster_version: str = ""

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """The inner renderer's objects for ``snapshot``, from the cache when its input was rendered before."""
        key = self.key(snapshot)
        found = self.cache.get(key)
        if found is not None:
            return found
        resources = self.inner.render(snapshot)
        self.cache.put(key, resources)
        return resources

    def for_cluster(self, capabilities: Capabilities) -> CachingRenderer:
        """This cache for a cluster: the inner renderer set up for it, its version part of every key."""
        inner = self.inner
        if isinstance(inner, ClusterAwareRenderer):
            # Set up for a cluster, a renderer is still the kind it was, with its fingerprint.
            inner = cast("FingerprintedRenderer", inner.for_cluster(capabilities))
        return attrs.evolve(self, inner=inner, cluster_version=self.cluster_version or capabilities.kube_version)

    def fingerprint(self) -> str:
        """The inner renderer's fingerprint (a caching renderer renders what it wraps)."""
        return self.inner.fingerprint()

    def key(self, snapshot: Snapshot) -> str:
        """The cache key of ``snapshot``'s render."""
        content = _content_digest(snapshot, self.generate_paths) if self.generate_paths else snapshot.revision.sha
        parts = [content, snapshot.path, self.inner.fingerprint(), self.cluster_version]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _content_digest(snapshot: Snapshot, paths: Sequence[str]) -> str:
    """A digest of every file under ``paths`` (names, bytes, symlink targets), confined to the repository."""
    root = Path(os.path.realpath(snapshot.root))
    digest = hashlib.sha256()
    for given in sorted(set(paths)):
        base = snapshot.root / given.lstrip("/") if given.startswith("/") else snapshot.directory / given
        resolved = Path(os.path.realpath(base))
        if resolved != root and root not in resolved.parents:
            raise PathEscapeError(f"generate path {given!r} is outside the repository", path=given)
        digest.update(f"path:{given}\0".encode())
        for file in _files(resolved):
            digest.update(f"{file.relative_to(root).as_posix()}\0".encode())
            digest.update(_file_bytes(file))
    return digest.hexdigest()


def _files(base: Path) -> list[Path]:
    if not base.exists() and not base.is_symlink():
        return []
    if base.is_file() or base.is_symlink():
        return [base]
    found: list[Path] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(name for name in dirs if name != ".git")
        found += [Path(folder) / name for name in sorted(files)]
    return found


def _file_bytes(path: Path) -> bytes:
    if path.is_symlink():
        return b"link:" + str(path.readlink()).encode()
    return hashlib.sha256(path.read_bytes()).digest()
