"""What every cached source shares: where the cache lives, one writer at a time, and folders published whole.

Sources keep fetched state (Git clones and checkouts, chart archives, combined snapshots) in a cache that threads
and processes share. Writers take an ``fcntl`` lock per entry; a folder is written aside (``.tmp-*``) and renamed
into place, so a reader sees it whole or not at all, and a crash leaves only scratch folders the next writer
removes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import platformdirs

from reconcile.errors import SourceError

_LOCK_POLL = 0.05  # seconds between tries of a lock another fetch holds


def cache_folder(cache_dir: str | os.PathLike[str] | None, kind: str) -> Path:
    """``cache_dir``, or ``<user cache dir>/reconcile/<kind>``, as an absolute path."""
    base = Path(cache_dir) if cache_dir is not None else Path(platformdirs.user_cache_dir("reconcile")) / kind
    return base.expanduser().absolute()


@contextlib.contextmanager
def locked(lock_file: Path, timeout: float | None, error: Callable[[str, bool], SourceError]) -> Iterator[None]:
    """Hold ``lock_file``'s exclusive lock (flock: per open file, so threads exclude each other too).

    Args:
        lock_file: The lock, created when missing.
        timeout: Seconds to wait for another holder; ``None`` waits for ever.
        error: Makes the source's error from a message and whether it is retryable (the source names itself
            and keeps its credentials out).

    Raises:
        SourceError: The lock file cannot be opened, or another fetch held it past ``timeout`` (retryable).
    """
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise error(f"cannot open the cache lock {lock_file}: {exc}", False) from exc
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise error(f"another fetch held {lock_file} for {timeout:g} s", True) from None
                time.sleep(_LOCK_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


def publish(target: Path, write: Callable[[Path], None], *, scratch_prefix: str = ".tmp-") -> None:
    """Write a folder aside with ``write(scratch)``, then rename it to ``target`` whole.

    Call it holding the entry's lock: scratch folders of the same prefix are a crash's leftovers and are removed
    first. A failure removes the scratch folder and leaves ``target`` as it was.
    """
    for stale in target.parent.glob(f"{scratch_prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=scratch_prefix, dir=target.parent))
    try:
        write(scratch)
        scratch.rename(target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
