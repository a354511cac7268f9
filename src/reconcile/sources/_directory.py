"""A folder on local disk as the source of desired state, with a content digest standing in for a commit."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import attrs

from reconcile.errors import ConfigurationError, PathNotFoundError, SourceError
from reconcile.model import Revision, Snapshot

__all__ = ["DirectorySource", "folder_digest"]

_CHUNK = 1 << 20


def _folder(value: object) -> Path:
    if not isinstance(value, str | os.PathLike) or value == "":
        raise ConfigurationError.argument("DirectorySource(path)", "a folder's path (str or os.PathLike)", value)
    return Path(value)


@attrs.frozen
class DirectorySource:
    """Reads the desired state straight from a folder; nothing is copied.

    The snapshot's root is the folder itself (resolved), its path ``"."``, and its revision a digest of the
    content (see :func:`folder_digest`), so an unchanged folder always gives the same revision.

    Attributes:
        path: The folder.
    """

    path: Path = attrs.field(converter=_folder)

    def fetch(self) -> Snapshot:
        """Digest the folder and describe it as a snapshot.

        Raises:
            PathNotFoundError: The folder does not exist or is not a folder.
            SourceError: A file in it could not be read.
        """
        url = str(self.path)
        if not self.path.is_dir():
            problem = "is not a folder" if self.path.exists() else "does not exist"
            raise PathNotFoundError(f"{url} {problem}", url=url)
        root = self.path.resolve()
        return Snapshot(revision=Revision(sha=folder_digest(root)), root=root, path=".")


def folder_digest(folder: str | os.PathLike[str]) -> str:
    """A SHA-1 (40 hex digits) of a folder's content: any change a renderer could see changes it.

    It covers every regular file's path, executable bit and content and every symlink's path and target, in
    path order. ``.git`` is skipped, and so are timestamps: an unchanged folder always gives the same digest.

    Raises:
        SourceError: A file could not be read.
    """
    base = Path(folder)
    entries: list[tuple[str, bytes]] = []
    try:
        for directory, dirnames, filenames in os.walk(base, onerror=_raise):
            dirnames[:] = [name for name in dirnames if name != ".git"]
            for name in (*dirnames, *filenames):
                if name != ".git":  # also a submodule's .git file
                    entries.extend(_describe(Path(directory, name), base))
    except OSError as exc:
        raise SourceError(f"cannot read {exc.filename or base}: {exc.strerror}", url=str(base)) from None
    digest = hashlib.sha1(usedforsecurity=False)
    for relative, description in sorted(entries):
        digest.update(os.fsencode(relative) + b"\0" + description + b"\n")
    return digest.hexdigest()


def _raise(error: OSError) -> None:
    raise error


def _describe(path: Path, base: Path) -> list[tuple[str, bytes]]:
    """``[(relative path, what it holds)]`` for a symlink or a regular file; folders are walked instead."""
    relative = path.relative_to(base).as_posix()
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        target = os.fsencode(path.readlink())
        return [(relative, b"link %d %s" % (len(target), target))]
    if not stat.S_ISREG(info.st_mode):
        return []
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    executable = b"755" if info.st_mode & stat.S_IXUSR else b"644"
    return [(relative, b"file %s %s" % (executable, digest.hexdigest().encode()))]
