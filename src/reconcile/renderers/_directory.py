"""Plain manifests: every YAML, JSON and Jsonnet file in the application's folder, as Argo CD's directory sources.

Argo CD's directory sources read ``*.yaml``, ``*.yml`` and ``*.json`` files and evaluate ``*.jsonnet`` files
(its manifest pattern is ``yaml|yml|json|jsonnet``), all filtered by the same include and exclude globs; the
Jsonnet files go to a :class:`~reconcile.renderers.JsonnetRenderer` (its variables and libraries are Argo CD's
``directory.jsonnet``). Files are read in name order; with ``recurse`` the subfolders too. Hidden files and
folders (``.name``) are skipped, and so are files of other types whatever the globs say. Symlinks are followed
while they stay inside the snapshot's root; one that points outside it is an error, so a repository cannot make
the renderer read the host's files.
"""

from __future__ import annotations

import errno
import json
import os
import posixpath
from pathlib import Path

import attrs

from reconcile.errors import ManifestError, PathEscapeError, RenderError
from reconcile.manifests import MAX_FILE_BYTES, MAX_NODES, check_unique, load_manifests, validate_manifest
from reconcile.model import Location, Resource, ResourceKey, Snapshot
from reconcile.renderers._files import matches, parse_patterns, validate_include
from reconcile.renderers._jsonnet import JsonnetRenderer

__all__ = ["DirectoryRenderer"]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json", ".jsonnet")
"""Argo CD's manifest pattern, ``^.*\\.(yaml|yml|json|jsonnet)$``: the only files a directory source reads."""
_JSONNET = ".jsonnet"


@attrs.frozen(kw_only=True)
class DirectoryRenderer:
    """Reads the manifests in ``snapshot.directory``.

    Attributes:
        recurse: Read subfolders too (Argo CD's ``directory.recurse``).
        include: Comma-separated globs a file must match, by its path relative to the application folder or by
            its name; Argo CD's ``{*.yml,*.yaml}`` form works too.
        exclude: Globs for files (and, with ``recurse``, folders) to skip; ``None`` skips nothing.
        max_file_bytes: Larger files are refused before they are read.
        max_nodes: How many nodes YAML aliases may add to one document (see :func:`load_manifests`).
        max_total_bytes: The whole folder's files together may hold no more than this (a repository that
            would exhaust memory is refused before anything is parsed).
        max_files: How many files a render may read; a folder with more is refused while it is walked, before
            any is read (a hostile repository of 100,000 files would take minutes).
        jsonnet: Evaluates the ``*.jsonnet`` files the walk finds, with its variables, libraries and limits (its
            own ``include``, ``exclude`` and ``recurse`` are not used: this renderer's are); ``None`` skips them.
    """

    recurse: bool = False
    include: str = attrs.field(default="*.yaml,*.yml,*.json,*.jsonnet", validator=validate_include)
    exclude: str | None = None
    max_file_bytes: int = MAX_FILE_BYTES
    max_nodes: int = MAX_NODES
    max_total_bytes: int = 16 * MAX_FILE_BYTES
    max_files: int = 10_000
    jsonnet: JsonnetRenderer | None = attrs.field(factory=JsonnetRenderer)

    def fingerprint(self) -> str:
        """Everything the output depends on besides the files: the settings, and Jsonnet's (with its version).

        Raises:
            ToolError: go-jsonnet cannot report its version (see :meth:`JsonnetRenderer.fingerprint`).
        """
        settings = {
            field.name: getattr(self, field.name) for field in attrs.fields(type(self)) if field.name != "jsonnet"
        }
        jsonnet = json.loads(self.jsonnet.fingerprint()) if self.jsonnet is not None else None
        return json.dumps(["directory", settings, jsonnet], sort_keys=True)

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """Load, validate and sort the folder's objects (by key, then file and line).

        Raises:
            RenderError: The folder is missing or a symlink leaves the root.
            ManifestError: A file is malformed, too large or not UTF-8, or an object lacks its identity.
            DuplicateResourceError: Two manifests name the same object.
        """
        with RenderError.naming(snapshot.revision):
            files = self._files(snapshot)
            self._check_total(files)
            plain = [(path, name) for path, name in files if not name.endswith(_JSONNET)]
            resources = [resource for path, name in plain for resource in self._load(path, name)]
            jsonnet = [name for _, name in files if name.endswith(_JSONNET)]
            if jsonnet and self.jsonnet is not None:
                resources += self.jsonnet.render_files(snapshot, jsonnet)
            resources.sort(key=lambda r: (r.key, r.source.file if r.source else "", _line_of(r)))
            check_unique(resources)
        return tuple(resources)

    def _check_total(self, files: list[tuple[str, str]]) -> None:
        total = sum(Path(path).stat().st_size for path, _ in files)
        if total > self.max_total_bytes:
            raise RenderError(f"the application's files hold {total} bytes, over the limit of {self.max_total_bytes}")

    def _files(self, snapshot: Snapshot) -> list[tuple[str, str]]:
        """``(path on disk, path relative to the root)`` of every file to read, in walk order."""
        root = os.path.realpath(snapshot.root)
        app_path = posixpath.normpath(Path(snapshot.path).as_posix())
        app = os.path.realpath(snapshot.directory)
        if not Path(app).is_dir():
            raise RenderError(f"application folder {app_path!r} does not exist")
        if not _inside(app, root):
            raise PathEscapeError(f"application folder {app_path!r} is outside the repository", path=app_path)
        walker = _Walker(
            root=root,
            include=parse_patterns(self.include),
            exclude=parse_patterns(self.exclude),
            recurse=self.recurse,
            prefix="" if app_path == "." else app_path + "/",
            max_files=self.max_files,
        )
        walker.walk(str(snapshot.directory), "", {app})
        return walker.found

    def _load(self, path: str, name: str) -> list[Resource]:
        data = _read(path, name, self.max_file_bytes)
        resources = []
        for obj, line in load_manifests(data, file=name, max_bytes=self.max_file_bytes, max_nodes=self.max_nodes):
            validate_manifest(obj, file=name, line=line)
            # load_manifests built obj for us alone, so it needs no defensive copy.
            resources.append(
                Resource(key=ResourceKey.from_manifest(obj), manifest=obj, source=Location(file=name, line=line))
            )
        return resources


def _line_of(resource: Resource) -> int:
    return (resource.source.line or 0) if resource.source else 0


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@attrs.define(kw_only=True)
class _Walker:
    """One walk over the application folder; collects the files to read."""

    root: str
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    recurse: bool
    prefix: str
    max_files: int
    found: list[tuple[str, str]] = attrs.field(factory=list)

    def walk(self, directory: str, relative: str, visited: set[str]) -> None:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = f"{relative}{entry.name}"
            name = self.prefix + path
            if entry.is_symlink() and not _inside(os.path.realpath(entry.path), self.root):
                raise PathEscapeError(f"symlink {name!r} points outside the repository", path=name)
            if entry.is_symlink() and _loops(entry.path):
                raise ManifestError("symlink loop: the link never reaches a file or folder", file=name)
            if entry.is_dir():
                real = os.path.realpath(entry.path)
                # A folder reached twice through symlinks is read once: this also breaks cycles.
                if self.recurse and real not in visited and not matches(self.exclude, path):
                    visited.add(real)
                    self.walk(entry.path, path + "/", visited)
            elif (
                entry.name.endswith(_MANIFEST_SUFFIXES)
                and matches(self.include, path)
                and not matches(self.exclude, path)
            ):
                if entry.is_file():
                    if len(self.found) >= self.max_files:
                        raise RenderError(f"the application has more than {self.max_files} files to read (max_files)")
                    self.found.append((entry.path, name))
                elif entry.is_symlink():
                    raise RenderError(f"symlink {name!r} points to nothing")


def _loops(path: str) -> bool:
    """Whether following the symlink at ``path`` never ends (``a -> b -> a``)."""
    try:
        Path(path).stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _read(path: str, name: str, max_bytes: int) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise ManifestError(f"file is {size} bytes, over the limit of {max_bytes}", file=name)
            return handle.read(max_bytes + 1)  # load_manifests refuses it if it grew meanwhile
    except OSError as exc:
        raise RenderError(f"cannot read {name!r}: {exc.strerror}") from None
