"""A folder on local disk as the source of desired state, with a content digest standing in for a commit."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from time import time_ns

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
    content (see :func:`folder_digest`), so an unchanged folder always gives the same revision. A source
    remembers its files' content digests by their status (size, times, inode), as Git's index does: a later
    fetch reads only the files that changed (a folder of 10,000 files is digested again in a tenth of the time).

    Attributes:
        path: The folder.
    """

    path: Path = attrs.field(converter=_folder)
    _known: dict[str, _Known] = attrs.field(factory=dict, init=False, repr=False, eq=False)

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
        return Snapshot(revision=Revision(sha=folder_digest(root, known=self._known)), root=root, path=".")


# A file's status when its content was digested, and the digest (see ``_file_digest``).
_Known = tuple[tuple[int, ...], bytes]
# A file written this close to the time it was digested may change again within its timestamp's resolution
# unseen (Git's "racy clean" case): its digest is not reused.
_RACY_NS = 2_000_000_000


def folder_digest(folder: str | os.PathLike[str], *, known: dict[str, _Known] | None = None) -> str:
    """A SHA-1 (40 hex digits) of a folder's content: any change a renderer could see changes it.

    It covers every regular file's path, executable bit and content and every symlink's path and target, in
    path order. ``.git`` is skipped, and so are timestamps: an unchanged folder always gives the same digest.
    ``known`` (kept by the caller from call to call) lets a file whose status did not change keep its digest
    unread; it is updated to the files found now.

    Raises:
        SourceError: A file could not be read.
    """
    base = os.fspath(folder)
    entries: list[tuple[str, bytes]] = []
    found: dict[str, _Known] = {}
    try:
        for directory, dirnames, filenames in os.walk(base, onerror=_raise):
            dirnames[:] = [name for name in dirnames if name != ".git"]
            inside = os.path.relpath(directory, base).replace(os.sep, "/")
            prefix = "" if inside == "." else inside + "/"
            for name in (*dirnames, *filenames):
                if name != ".git":  # also a submodule's .git file
                    entries.extend(_describe(os.path.join(directory, name), prefix + name, known, found))  # noqa: PTH118
    except OSError as exc:
        raise SourceError(f"cannot read {exc.filename or base}: {exc.strerror}", url=base) from None
    if known is not None:
        known.clear()
        known.update(found)
    digest = hashlib.sha1(usedforsecurity=False)
    for relative, description in sorted(entries):
        digest.update(os.fsencode(relative) + b"\0" + description + b"\n")
    return digest.hexdigest()


def _raise(error: OSError) -> None:
    raise error


def _describe(
    path: str, relative: str, known: dict[str, _Known] | None, found: dict[str, _Known]
) -> list[tuple[str, bytes]]:
    """``[(relative path, what it holds)]`` for a symlink or a regular file; folders are walked instead."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        target = os.fsencode(os.readlink(path))  # noqa: PTH115 - str paths: pathlib costs a third of a pass
        return [(relative, b"link %d %s" % (len(target), target))]
    if not stat.S_ISREG(info.st_mode):
        return []
    status = (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino, info.st_dev)
    last = known.get(relative) if known is not None else None
    content = last[1] if last is not None and last[0] == status else _file_digest(path)
    if time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) > _RACY_NS:
        found[relative] = (status, content)
    executable = b"755" if info.st_mode & stat.S_IXUSR else b"644"
    return [(relative, b"file %s %s" % (executable, content))]


def _file_digest(path: str) -> bytes:
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as handle:  # noqa: PTH123 - a str path, on a hot path
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest().encode()
