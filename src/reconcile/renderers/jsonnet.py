"""Jsonnet files, evaluated in-process with go-jsonnet (the ``gojsonnet`` package, the only importer of it).

Like Argo CD, every ``*.jsonnet`` file in the application's folder is evaluated (``*.libsonnet`` files are only
imported); a result that is an object, a list of objects, or a ``List`` becomes objects. External variables,
external code, top-level arguments (strings and code) and library folders are Argo CD's ``directory.jsonnet``
options.

Every file go-jsonnet reads comes through this module: imports resolve against the importing file's folder,
then the library folders, and a path that is absolute, climbs out with ``..``, or reaches through a symlink
outside the repository is refused with :class:`~reconcile.errors.PathEscapeError` before anything is read.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import _gojsonnet  # type: ignore[import-not-found]  # the wheel ships no type hints
import attrs

from reconcile.errors import ConfigurationError, ManifestError, PathEscapeError, RenderError, ToolError
from reconcile.manifests import MAX_FILE_BYTES, validate_manifest
from reconcile.model import Location, Resource, ResourceKey, Snapshot
from reconcile.renderers._tools import DEFAULT_MAX_OUTPUT
from reconcile.renderers.directory import check_unique, parse_patterns

__all__ = ["JsonnetRenderer"]

_MESSAGE_KEPT = 4096
# "file:line:col" or "file:(line:col)-(line:col)" in go-jsonnet's messages and stack traces.
_POSITION = re.compile(r"(?P<file>[^\s:()]+):\(?(?P<line>\d+):\d+")


def _string_map(value: Mapping[str, Any] | None) -> dict[str, str] | None:
    if value is None:
        return None
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str):
            raise ConfigurationError(f"jsonnet variables map names to strings, got {key!r}: {item!r}")
        out[key] = item
    return out


def _libs(value: Sequence[str] | str) -> tuple[str, ...]:
    libs = (value,) if isinstance(value, str) else tuple(value)
    out = []
    for lib in libs:
        normal = posixpath.normpath(lib.replace(os.sep, "/").lstrip("/"))
        if normal == ".." or normal.startswith("../"):
            raise ConfigurationError(f"jsonnet library path {lib!r} climbs out of the repository")
        out.append(normal)
    return tuple(out)


def _validate_include(instance: JsonnetRenderer, attribute: attrs.Attribute[str], value: str) -> None:
    if not parse_patterns(value):
        raise ConfigurationError(f"include must name at least one pattern, got {value!r}")


@attrs.frozen(kw_only=True)
class JsonnetRenderer:
    """Evaluates the Jsonnet files in ``snapshot.directory``.

    Attributes:
        ext_vars: External variables (``std.extVar``) with string values.
        ext_code: External variables whose values are Jsonnet code.
        tlas: Top-level arguments with string values (for files that evaluate to a function).
        tla_code: Top-level arguments whose values are Jsonnet code.
        libs: Library folders, relative to the repository root (a leading ``/`` is the root too), searched after
            the importing file's own folder; as in go-jsonnet, a later folder wins over an earlier one.
        include: Comma-separated globs (by path relative to the application folder, or by name) of the files to
            evaluate; Argo CD's ``{a,b}`` form works too.
        exclude: Globs of files (and, with ``recurse``, folders) to leave out.
        recurse: Evaluate matching files in subfolders too.
        max_output: Bytes of JSON all files together may produce.
        max_file_bytes: Larger source or imported files are refused before they are read.
        max_stack: Jsonnet's stack depth limit (deep recursion fails instead of running away).
    """

    ext_vars: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    ext_code: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    tlas: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    tla_code: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    libs: tuple[str, ...] = attrs.field(default=(), converter=_libs)
    include: str = attrs.field(default="*.jsonnet", validator=_validate_include)
    exclude: str | None = None
    recurse: bool = False
    max_output: int = DEFAULT_MAX_OUTPUT
    max_file_bytes: int = MAX_FILE_BYTES
    max_stack: int = 500
    _memo: dict[str, str] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def fingerprint(self) -> str:
        """This configuration and the go-jsonnet version, as stable text (part of render cache keys)."""
        if "fingerprint" not in self._memo:
            config = {
                field.name: getattr(self, field.name) for field in attrs.fields(type(self)) if field.name != "_memo"
            }
            self._memo["fingerprint"] = json.dumps(
                {"renderer": "jsonnet", "version": str(_gojsonnet.version), "config": config}, sort_keys=True
            )
        return self._memo["fingerprint"]

    def render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        """Evaluate each matching file, in path order, and load the objects it produces.

        Raises:
            PathEscapeError: A file, import, library folder or symlink resolves outside the repository.
            ToolError: Jsonnet failed (its message; ``file`` names where, the message the line too), or the
                output is over ``max_output``.
            ManifestError: A result is not an object or a list of objects, or an object lacks its identity.
            DuplicateResourceError: Two objects have the same key.
        """
        try:
            return self._render(snapshot)
        except RenderError as exc:
            if exc.revision is None:
                exc.revision = snapshot.revision
            raise

    def _render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        files = _Files(root=os.path.realpath(snapshot.root), max_bytes=self.max_file_bytes)
        app = posixpath.normpath(Path(snapshot.path).as_posix())
        files.resolve(app, what="application folder")
        if not Path(files.root, app).is_dir():
            raise RenderError(f"application folder {app!r} does not exist")
        for lib in self.libs:
            files.resolve(lib, what="library folder")
        resources: list[Resource] = []
        budget = self.max_output
        for name in self._sources(files, app):
            output = self._evaluate(files, name)
            budget -= len(output.encode())
            if budget < 0:
                raise ToolError(
                    f"jsonnet: the output is over the limit of {self.max_output} bytes (output limit)",
                    tool="jsonnet",
                    file=name,
                )
            resources += _objects(output, name)
        check_unique(resources)
        return tuple(resources)

    def _sources(self, files: _Files, app: str) -> list[str]:
        """The files to evaluate, relative to the root, in walk order."""
        include, exclude = parse_patterns(self.include), parse_patterns(self.exclude)
        prefix = "" if app == "." else app + "/"
        found: list[str] = []
        pending = [""]
        while pending:
            relative = pending.pop(0)
            folder = Path(files.root, prefix + relative)
            for entry in sorted(folder.iterdir(), key=lambda p: p.name):
                path = relative + entry.name
                if entry.name.startswith(".") or _matches(exclude, path):
                    continue
                files.resolve(prefix + path, what="symlink" if entry.is_symlink() else "file")
                if entry.is_dir():
                    if self.recurse and not entry.is_symlink():  # a linked folder is read where it lives
                        pending.append(path + "/")
                elif _matches(include, path) and entry.is_file():
                    found.append(prefix + path)
        return found

    def _evaluate(self, files: _Files, name: str) -> str:
        refused: list[RenderError] = []

        def import_callback(folder: str, path: str) -> tuple[str, bytes]:
            try:
                found = files.find(folder, path, self.libs)
                return found, files.read(found)
            except RenderError as exc:
                # go-jsonnet garbles exception text from callbacks: keep ours and raise it afterwards.
                refused.append(exc)
                raise RuntimeError("refused") from None

        code = files.read(name).decode("utf-8", errors="replace")
        try:
            return str(
                _gojsonnet.evaluate_snippet(
                    name,
                    code,
                    ext_vars=self.ext_vars or {},
                    ext_codes=self.ext_code or {},
                    tla_vars=self.tlas or {},
                    tla_codes=self.tla_code or {},
                    max_stack=self.max_stack,
                    import_callback=import_callback,
                )
            )
        except RuntimeError as exc:
            if refused:
                raise refused[0] from None
            raise _jsonnet_error(str(exc), name) from None


def _matches(patterns: tuple[str, ...], relative: str) -> bool:
    name = posixpath.basename(relative)
    return any(fnmatch.fnmatchcase(relative, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


@attrs.frozen(kw_only=True)
class _Files:
    """Reads files of one repository by paths relative to its root, never outside it."""

    root: str
    max_bytes: int

    def resolve(self, relative: str, *, what: str) -> str:
        """The real path of ``relative`` (root-relative, ``/``-separated), refusing anything outside the root."""
        real = os.path.realpath(Path(self.root, relative))
        if relative == ".." or relative.startswith(("../", "/")) or not _inside(real, self.root):
            raise PathEscapeError(f"{what} {relative!r} resolves outside the repository", path=relative)
        return real

    def find(self, folder: str, path: str, libs: tuple[str, ...]) -> str:
        """Where an import of ``path`` from a file in ``folder`` is: the folder first, then the libraries."""
        if path.startswith("/") or Path(path).is_absolute():
            raise PathEscapeError(f"import {path!r} is an absolute path", path=path)
        for base in (folder, *reversed(libs)):
            candidate = posixpath.normpath(posixpath.join(base, path))
            if candidate == ".." or candidate.startswith("../"):
                if base == folder:
                    raise PathEscapeError(f"import {path!r} climbs out of the repository", path=path)
                continue
            if Path(self.resolve(candidate, what="import")).is_file():
                return candidate
        raise ToolError(
            f"jsonnet: import {path!r} not found next to {folder or '.'!r} or in the library folders",
            tool="jsonnet",
            file=folder.rstrip("/") or ".",
        )

    def read(self, relative: str) -> bytes:
        real = self.resolve(relative, what="file")
        try:
            with Path(real).open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > self.max_bytes:
                    raise ManifestError(f"file is {size} bytes, over the limit of {self.max_bytes}", file=relative)
                return handle.read(self.max_bytes + 1)
        except OSError as exc:
            raise RenderError(f"cannot read {relative!r}: {exc.strerror}") from None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _jsonnet_error(message: str, name: str) -> ToolError:
    """A go-jsonnet error as a ToolError naming the file and line where it happened."""
    message = message.strip()[:_MESSAGE_KEPT]
    position = _POSITION.search(message)
    file = position.group("file") if position else name
    first = message.splitlines()[0] if message else "evaluation failed"
    where = f"{file}:{position.group('line')}" if position else file
    return ToolError(f"jsonnet: {where}: {first}", tool="jsonnet", stderr=message, file=file)


def _objects(output: str, name: str) -> list[Resource]:
    """The objects of one file's result: an object, a list of them, or ``*List`` objects, flattened."""
    try:
        value = json.loads(output)
    except ValueError as exc:  # go-jsonnet writes valid JSON; a safety net all the same
        raise ManifestError(f"jsonnet output is not JSON: {exc}", file=name) from None
    out: list[Resource] = []
    pending: list[Any] = [value]
    while pending:
        item = pending.pop(0)
        if item is None:
            continue
        if isinstance(item, list):
            pending[:0] = item
            continue
        if not isinstance(item, dict):
            raise ManifestError(
                f"the result must be an object or a list of objects, not {type(item).__name__}", file=name
            )
        items = item.get("items")
        if isinstance(item.get("kind"), str) and item["kind"].endswith("List") and isinstance(items, list):
            pending[:0] = items
            continue
        validate_manifest(item, file=name, line=None)
        out.append(Resource(key=ResourceKey.from_manifest(item), manifest=item, source=Location(file=name)))
    return out
