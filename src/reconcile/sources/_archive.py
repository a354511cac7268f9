"""Unpacking downloaded archives (chart ``.tgz`` files, OCI layers) by rules we test, never ``extractall``.

An archive comes from a repository or a registry we do not control. Member by member: only regular files and
folders are written, never links, devices or FIFOs; no absolute paths, no ``..``; no member twice; at most
10,000 members and a limit on the bytes written in all. Files with the executable bit keep it, nothing else of the
archive's modes or owners is kept. The bytes unpacked are the bytes whose digest the caller checked.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tarfile
import zlib
from pathlib import Path

__all__ = ["UnsafeArchiveError", "unpack_chart", "unpack_tree"]

_MAX_MEMBERS = 10_000
_CHUNK = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"


class UnsafeArchiveError(Exception):
    """An archive that must not be unpacked (links, ``..``, absolute paths, devices, too large, corrupt)."""


def unpack_chart(data: bytes, dest: Path, limit: int) -> str:
    """Unpack the gzipped chart archive ``data`` into the empty folder ``dest``; return its chart folder's name.

    Raises:
        UnsafeArchiveError: The archive breaks a rule, or does not hold exactly one top-level folder with a
            ``Chart.yaml``.
    """
    tops = unpack_tree(data, dest, limit, compressed=True)
    if len(tops) != 1 or not (dest / next(iter(tops))).is_dir():
        raise UnsafeArchiveError("it must hold exactly one top-level folder, the chart")
    top = next(iter(tops))
    if not (dest / top / "Chart.yaml").is_file():
        raise UnsafeArchiveError(f"it holds no {top}/Chart.yaml")
    return top


def unpack_tree(data: bytes, dest: Path, limit: int, *, compressed: bool | None = None) -> set[str]:
    """Unpack the tar ``data`` (gzipped or not) into the empty folder ``dest``; return its top-level names.

    Args:
        data: The archive.
        dest: An empty folder.
        limit: Bytes the unpacked files may hold together.
        compressed: Whether ``data`` is gzipped; ``None`` tells by its first bytes.

    Raises:
        UnsafeArchiveError: A member breaks a rule, the files are too large, or ``data`` is not a tar archive.
    """
    if compressed is None:
        compressed = data[:2] == _GZIP_MAGIC
    total = members = 0
    tops: set[str] = set()
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz" if compressed else "r:") as archive:
            for member in archive:
                members += 1
                if members > _MAX_MEMBERS:
                    raise UnsafeArchiveError(f"it holds more than {_MAX_MEMBERS} entries")
                parts = _member_parts(member.name)
                if not parts and member.isdir():
                    continue  # "./": the archive's own folder (tar -C dir .)
                if member.issym() or member.islnk():
                    raise UnsafeArchiveError(f"member {member.name!r} is a link")
                if not (member.isfile() or member.isdir()):
                    raise UnsafeArchiveError(f"member {member.name!r} is a device, FIFO or other special file")
                if not parts:
                    raise UnsafeArchiveError(f"member {member.name!r} names no file")
                tops.add(parts[0])
                target = dest.joinpath(*parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                total += member.size
                if total > limit:
                    raise UnsafeArchiveError(f"its files hold over {limit} bytes")
                _write(archive, member, target)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        kind = ".tgz" if compressed else "tar"
        raise UnsafeArchiveError(f"it is not a readable {kind} archive ({exc})") from None
    return tops


def _member_parts(name: str) -> tuple[str, ...]:
    if not name or "\0" in name or name.startswith("/") or "\\" in name:
        raise UnsafeArchiveError(f"member {name!r} has an absolute or unsafe path")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError(f"member {name!r} points outside the archive's folder")
    return parts


def _write(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source = archive.extractfile(member)
    if source is None:  # pragma: no cover - isfile() members always have content
        raise UnsafeArchiveError(f"member {member.name!r} has no content")
    mode = 0o755 if member.mode & 0o100 else 0o644
    try:
        # O_EXCL | O_NOFOLLOW: a duplicate member cannot overwrite a file or write through anything.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise UnsafeArchiveError(f"member {member.name!r} appears twice") from None
    with os.fdopen(fd, "wb") as handle, source:
        shutil.copyfileobj(source, handle, _CHUNK)
