"""Jsonnet files, evaluated with go-jsonnet (the ``gojsonnet`` package) in a child process with a time limit.

Like Argo CD, every ``*.jsonnet`` file in the application's folder is evaluated (``*.libsonnet`` files are only
imported); a result that is an object, a list of objects, or a ``List`` becomes objects. External variables,
external code, top-level arguments (strings and code) and library folders are Argo CD's ``directory.jsonnet``
options.

go-jsonnet cannot be interrupted in-process, so one child Python process per render
(:mod:`reconcile.renderers._jsonnet_child`) evaluates all the files, run through
:class:`~reconcile.renderers._tools.Tool` for its time limit, output limit and private environment. Every file
go-jsonnet reads comes through the child's import callback: imports resolve against the importing file's folder,
then the library folders, and a path that is absolute, climbs out with ``..``, or reaches through a symlink outside
the repository is refused with :class:`~reconcile.errors.PathEscapeError` before anything is read.
"""

from __future__ import annotations

import importlib.util
import json
import os
import posixpath
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from reconcile.errors import (
    ConfigurationError,
    ManifestError,
    PathEscapeError,
    RenderError,
    ToolError,
    ToolNotFoundError,
)
from reconcile.manifests import MAX_FILE_BYTES, check_unique, validate_manifest
from reconcile.model import Location, Resource, ResourceKey, Snapshot
from reconcile.renderers import _jsonnet_child
from reconcile.renderers._files import matches, parse_patterns, validate_include
from reconcile.renderers._jsonnet_child import Files, Refused
from reconcile.renderers._tools import DEFAULT_MAX_OUTPUT, DEFAULT_TIMEOUT, Tool, string_map

__all__ = ["JsonnetRenderer"]

# Bytes of the child's stdout besides the files' JSON: the framing, and an error's message.
_FRAMING = 64 * 1024
# "file:line:col" or "file:(line:col)-(line:col)" in go-jsonnet's messages and stack traces.
_POSITION = re.compile(r"(?P<file>[^\s:()]+):\(?(?P<line>\d+):\d+")


def _string_map(value: Mapping[str, Any] | None) -> dict[str, str] | None:
    return string_map(value, "jsonnet variables")


def _libs(value: Sequence[str] | str) -> tuple[str, ...]:
    libs = (value,) if isinstance(value, str) else tuple(value)
    out = []
    for lib in libs:
        normal = posixpath.normpath(lib.replace(os.sep, "/").lstrip("/"))
        if normal == ".." or normal.startswith("../"):
            raise ConfigurationError(f"jsonnet library path {lib!r} climbs out of the repository")
        out.append(normal)
    return tuple(out)


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
        timeout: Seconds one render's evaluation (all files together) may take before it is stopped.
    """

    ext_vars: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    ext_code: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    tlas: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    tla_code: dict[str, str] | None = attrs.field(default=None, converter=_string_map)
    libs: tuple[str, ...] = attrs.field(default=(), converter=_libs)
    include: str = attrs.field(default="*.jsonnet", validator=validate_include)
    exclude: str | None = None
    recurse: bool = False
    max_output: int = DEFAULT_MAX_OUTPUT
    max_file_bytes: int = MAX_FILE_BYTES
    max_stack: int = 500
    timeout: float = DEFAULT_TIMEOUT
    _memo: dict[str, str] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def fingerprint(self) -> str:
        """This configuration and the go-jsonnet version, as stable text (part of render cache keys).

        Raises:
            ToolError: The child could not report go-jsonnet's version (``gojsonnet`` is not installed).
        """
        if "fingerprint" not in self._memo:
            config = {
                field.name: getattr(self, field.name) for field in attrs.fields(type(self)) if field.name != "_memo"
            }
            version = _python().version([*_CHILD, "--version"], env=_child_environment())
            self._memo["fingerprint"] = json.dumps(
                {"renderer": "jsonnet", "version": version, "config": config}, sort_keys=True
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
        with RenderError.naming(snapshot.revision):
            return self._render(snapshot)

    def render_files(self, snapshot: Snapshot, names: Sequence[str]) -> list[Resource]:
        """Evaluate the files ``names`` (paths relative to the root, found by the caller) and load their objects.

        How :class:`~reconcile.renderers.DirectoryRenderer` evaluates the ``*.jsonnet`` files its own walk
        found, with this renderer's variables, libraries and limits (its ``include``, ``exclude`` and
        ``recurse`` are the walk's business, and not used here).

        Raises:
            As :meth:`render`, but ``DuplicateResourceError`` is the caller's to check.
        """
        try:
            files = self._files(snapshot)
            for name in names:
                files.resolve(name, what="file")
        except Refused as exc:
            raise _typed(exc.as_dict()) from None
        return self._objects_of(files.root, list(names))

    def _render(self, snapshot: Snapshot) -> tuple[Resource, ...]:
        try:
            files = self._files(snapshot)
            names = self._sources(files, posixpath.normpath(Path(snapshot.path).as_posix()))
        except Refused as exc:
            raise _typed(exc.as_dict()) from None
        resources = self._objects_of(files.root, names)
        check_unique(resources)
        return tuple(resources)

    def _files(self, snapshot: Snapshot) -> Files:
        """The guard every read goes through, with the application folder and library folders checked."""
        files = Files(os.path.realpath(snapshot.root), self.max_file_bytes)
        app = posixpath.normpath(Path(snapshot.path).as_posix())
        files.resolve(app, what="application folder")
        if not Path(files.root, app).is_dir():
            raise RenderError(f"application folder {app!r} does not exist")
        for lib in self.libs:
            files.resolve(lib, what="library folder")
        return files

    def _objects_of(self, root: str, names: list[str]) -> list[Resource]:
        resources: list[Resource] = []
        for name, value in self._evaluate(root, names):
            resources += _objects(value, name)
        return resources

    def _sources(self, files: Files, app: str) -> list[str]:
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
                if entry.name.startswith(".") or matches(exclude, path):
                    continue
                files.resolve(prefix + path, what="symlink" if entry.is_symlink() else "file")
                if entry.is_dir():
                    if self.recurse and not entry.is_symlink():  # a linked folder is read where it lives
                        pending.append(path + "/")
                elif matches(include, path) and entry.is_file():
                    found.append(prefix + path)
        return found

    def _evaluate(self, root: str, names: list[str]) -> list[tuple[str, Any]]:
        """Each file's result, evaluated in one child process; raises the child's problem as a typed error."""
        if not names:
            return []
        request = {
            "root": root,
            "files": names,
            "ext_vars": self.ext_vars or {},
            "ext_code": self.ext_code or {},
            "tlas": self.tlas or {},
            "tla_code": self.tla_code or {},
            "libs": list(self.libs),
            "max_output": self.max_output,
            "max_file_bytes": self.max_file_bytes,
            "max_stack": self.max_stack,
        }
        # A file, not an argument: values may be long, and arguments are visible to every local user.
        with tempfile.TemporaryDirectory(prefix="reconcile-jsonnet-request-") as folder:
            path = Path(folder, "request.json")
            path.write_text(json.dumps(request), encoding="utf-8")
            try:
                output = _python().run(
                    [*_CHILD, str(path)],
                    cwd=folder,
                    env=_child_environment(),
                    timeout=self.timeout,
                    max_output=self.max_output + _FRAMING + sum(len(name) + 32 for name in names),
                )
            except ToolNotFoundError:
                raise
            except ToolError as exc:
                raise _stopped(exc, names) from None
        try:
            document = json.loads(output)
        except ValueError as exc:  # go-jsonnet writes valid JSON; a safety net all the same
            raise ToolError(f"jsonnet: the output is not JSON: {exc}", tool="jsonnet") from None
        if "error" in document:
            raise _typed(document["error"])
        return [(item["file"], item["value"]) for item in document["results"]]


_CHILD = ("-S", "-P", str(Path(_jsonnet_child.__file__)))
"""Run the child by path without ``site`` or the script's folder on ``sys.path``: it needs neither, and importing
the ``reconcile`` package (``python -m``) would cost more than the evaluation."""


def _python() -> Tool:
    return Tool("jsonnet", path=sys.executable)


def _child_environment() -> dict[str, str]:
    """Where the child finds ``_gojsonnet`` (found without importing it here); nothing else of ours."""
    spec = importlib.util.find_spec("_gojsonnet")
    if spec is None or spec.origin is None:
        raise ToolError("jsonnet: go-jsonnet is not installed: pip install gojsonnet", tool="jsonnet")
    return {"PYTHONPATH": str(Path(spec.origin).parent)}


def _stopped(exc: ToolError, names: list[str]) -> ToolError:
    """The child's own failure (time limit, output limit, crash), naming the file it was evaluating."""
    lines = exc.stderr.splitlines()
    progress = [
        line.removeprefix(_jsonnet_child.PROGRESS) for line in lines if line.startswith(_jsonnet_child.PROGRESS)
    ]
    file = progress[-1] if progress and progress[-1] in names else None
    stderr = "\n".join(line for line in lines if not line.startswith(_jsonnet_child.PROGRESS)).strip()
    if exc.exit_code is None:  # stopped by a limit: Tool's message says which
        problem = str(exc).removeprefix(f"jsonnet {_CHILD[0]}").lstrip(": ")
    else:
        last = stderr.splitlines()[-1] if stderr else ""
        problem = f"the evaluating process failed (exit code {exc.exit_code})" + (f": {last}" if last else "")
    where = f"{file}: " if file else ""
    return ToolError(f"jsonnet: {where}{problem}", tool="jsonnet", exit_code=exc.exit_code, stderr=stderr, file=file)


def _typed(problem: Mapping[str, str]) -> RenderError:
    """The child's problem as the typed error the renderer raises."""
    kind, message = problem["kind"], problem["message"]
    if kind == "path":
        return PathEscapeError(message, path=problem["path"])
    if kind == "jsonnet":
        return _jsonnet_error(message, problem["file"])
    if kind == "tool":
        return ToolError(message, tool="jsonnet", file=problem.get("file"))
    if kind == "manifest":
        return ManifestError(message, file=problem.get("file"))
    return RenderError(message)


def _jsonnet_error(message: str, name: str) -> ToolError:
    """A go-jsonnet error as a ToolError naming the file and line where it happened."""
    message = message.strip()
    position = _POSITION.search(message)
    file = position.group("file") if position else name
    first = message.splitlines()[0] if message else "evaluation failed"
    where = f"{file}:{position.group('line')}" if position else file
    return ToolError(f"jsonnet: {where}: {first}", tool="jsonnet", stderr=message, file=file)


def _objects(value: Any, name: str) -> list[Resource]:
    """The objects of one file's result: an object, a list of them, or ``*List`` objects, flattened."""
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
