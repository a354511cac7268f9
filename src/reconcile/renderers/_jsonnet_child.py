"""The child process that evaluates Jsonnet files for :class:`~reconcile.renderers._jsonnet.JsonnetRenderer`.

go-jsonnet cannot be interrupted in-process, so each render evaluates its files here, in a child that the parent
stops at its time limit. The parent runs this file by path (``python -S -P <this file> <request.json>``) so the
child starts without importing the ``reconcile`` package, and so this module uses the standard library only; it
is also the only importer of ``_gojsonnet`` (imported where used, so the parent can share :class:`Files` without
loading the Go runtime).

The request file holds ``root``, ``files`` (root-relative), ``ext_vars``, ``ext_code``, ``tlas``, ``tla_code``,
``libs``, ``max_output``, ``max_file_bytes`` and ``max_stack``. The child writes one JSON document to stdout and
exits 0: ``{"results": [{"file": ..., "value": <the file's JSON>}, ...]}``, or ``{"error": {"kind": ...,
"message": ..., ...}}`` (see :class:`Refused`) for the parent to raise as the matching typed error. Before each
file it writes ``PROGRESS`` and the file's name to stderr, so a stopped child still says what it was evaluating.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
from pathlib import Path
from typing import Any

PROGRESS = "reconcile-jsonnet-evaluating: "
"""The stderr prefix of the line naming the file being evaluated."""

MESSAGE_KEPT = 4096
"""Characters of a go-jsonnet message kept (its stack trace can be long)."""


class Refused(Exception):  # noqa: N818  # a refusal carried across the process boundary, not a failure of ours
    """A problem the parent raises as a typed error.

    Attributes:
        kind: ``path`` (PathEscapeError, with ``path``), ``jsonnet`` (go-jsonnet's message, with ``file``),
            ``tool`` (ToolError, with ``file``), ``manifest`` (ManifestError, with ``file``) or ``render``.
        message: What was wrong.
        fields: ``path`` or ``file``.
    """

    def __init__(self, kind: str, message: str, **fields: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.fields = fields

    def as_dict(self) -> dict[str, str]:
        """The problem as JSON-ready fields."""
        return {"kind": self.kind, "message": self.message, **self.fields}


class Files:
    """Reads files of one repository by paths relative to its root, never outside it.

    Attributes:
        root: The repository's real path.
        max_bytes: Larger files are refused before they are read.
    """

    def __init__(self, root: str, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def resolve(self, relative: str, *, what: str) -> str:
        """The real path of ``relative`` (root-relative, ``/``-separated), refusing anything outside the root."""
        real = os.path.realpath(Path(self.root, relative))
        if relative == ".." or relative.startswith(("../", "/")) or not _inside(real, self.root):
            raise Refused("path", f"{what} {relative!r} resolves outside the repository", path=relative)
        return real

    def find(self, folder: str, path: str, libs: tuple[str, ...]) -> str:
        """Where an import of ``path`` from a file in ``folder`` is: the folder first, then the libraries."""
        if path.startswith("/") or Path(path).is_absolute():
            raise Refused("path", f"import {path!r} is an absolute path", path=path)
        for base in (folder, *reversed(libs)):
            candidate = posixpath.normpath(posixpath.join(base, path))
            if candidate == ".." or candidate.startswith("../"):
                if base == folder:
                    raise Refused("path", f"import {path!r} climbs out of the repository", path=path)
                continue
            if Path(self.resolve(candidate, what="import")).is_file():
                return candidate
        raise Refused(
            "tool",
            f"jsonnet: import {path!r} not found next to {folder or '.'!r} or in the library folders",
            file=folder.rstrip("/") or ".",
        )

    def read(self, relative: str) -> bytes:
        """The bytes of a file inside the root, up to ``max_bytes``."""
        real = self.resolve(relative, what="file")
        try:
            with Path(real).open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > self.max_bytes:
                    raise Refused(
                        "manifest", f"file is {size} bytes, over the limit of {self.max_bytes}", file=relative
                    )
                return handle.read(self.max_bytes + 1)
        except OSError as exc:
            raise Refused("render", f"cannot read {relative!r}: {exc.strerror}") from None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def evaluate(request: dict[str, Any]) -> list[tuple[str, str]]:
    """Evaluate the request's files in order; returns (file, JSON text) pairs.

    Raises:
        Refused: A path escapes the root, a file is too big, go-jsonnet failed, or the output is over the limit.
    """
    import _gojsonnet  # type: ignore[import-not-found]  # noqa: PLC0415  # the wheel ships no type hints

    files = Files(request["root"], request["max_file_bytes"])
    libs = tuple(request["libs"])
    budget = request["max_output"]
    results: list[tuple[str, str]] = []
    for name in request["files"]:
        refused: list[Refused] = []

        def import_callback(folder: str, path: str) -> tuple[str, bytes]:
            try:
                found = files.find(folder, path, libs)
                return found, files.read(found)
            except Refused as exc:
                # go-jsonnet garbles exception text from callbacks: keep ours and raise it afterwards.
                refused.append(exc)  # noqa: B023  # used before the loop moves on
                raise RuntimeError("refused") from None

        sys.stderr.write(PROGRESS + name + "\n")
        sys.stderr.flush()
        code = files.read(name).decode("utf-8", errors="replace")
        try:
            output = str(
                _gojsonnet.evaluate_snippet(
                    name,
                    code,
                    ext_vars=request["ext_vars"],
                    ext_codes=request["ext_code"],
                    tla_vars=request["tlas"],
                    tla_codes=request["tla_code"],
                    max_stack=request["max_stack"],
                    import_callback=import_callback,
                )
            )
        except RuntimeError as exc:
            if refused:
                raise refused[0] from None
            raise Refused("jsonnet", str(exc).strip()[:MESSAGE_KEPT], file=name) from None
        budget -= len(output.encode())
        if budget < 0:
            raise Refused(
                "tool",
                f"jsonnet: the output is over the limit of {request['max_output']} bytes (output limit)",
                file=name,
            )
        results.append((name, output))
    return results


def _document(results: list[tuple[str, str]]) -> str:
    """The results, each file's JSON embedded as go-jsonnet wrote it (no second encoding)."""
    items = [f'{{"file": {json.dumps(name)}, "value": {output}}}' for name, output in results]
    return '{"results": [' + ", ".join(items) + "]}"


def main(argv: list[str]) -> int:
    """Run one request (``argv[1]`` is its JSON file) or, with ``--version``, print go-jsonnet's version."""
    if argv[1:] == ["--version"]:
        import _gojsonnet  # noqa: PLC0415

        sys.stdout.write(str(_gojsonnet.version) + "\n")
        return 0
    request = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    try:
        document = _document(evaluate(request))
    except Refused as exc:
        document = json.dumps({"error": exc.as_dict()})
    sys.stdout.write(document)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
