from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest

import reconcile.sources._directory as directory
from reconcile.errors import PathNotFoundError
from reconcile.protocols import Source
from reconcile.renderers._directory import DirectoryRenderer
from reconcile.sources._directory import DirectorySource, folder_digest

EMPTY_SHA1 = hashlib.sha1(b"", usedforsecurity=False).hexdigest()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "desired"
    (root / "apps").mkdir(parents=True)
    (root / "apps/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n")
    (root / "README.md").write_text("hello\n")
    return root


def sha(path: Path | str) -> str:
    return DirectorySource(path).fetch().revision.sha


def test_fetch_describes_the_folder_as_a_snapshot(folder: Path) -> None:
    source = DirectorySource(str(folder))
    assert isinstance(source, Source)
    snapshot = source.fetch()
    assert snapshot.root == folder.resolve()
    assert snapshot.path == "."
    assert snapshot.directory == folder.resolve() / "."
    assert re.fullmatch("[0-9a-f]{40}", snapshot.revision.sha)
    assert snapshot.revision.ref is None
    assert snapshot.revision.message == ""
    assert snapshot.revision.sha == folder_digest(folder)


def test_the_snapshot_renders(folder: Path) -> None:
    snapshot = DirectorySource(folder).fetch()
    resources = DirectoryRenderer(recurse=True).render(snapshot)
    assert [(str(r.key), str(r.source)) for r in resources] == [("ConfigMap//a", "apps/cm.yaml:1")]


def test_the_root_is_resolved(folder: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    snapshot = DirectorySource(link).fetch()
    assert snapshot.root == folder.resolve()
    assert snapshot.revision.sha == sha(folder)


def test_an_unchanged_folder_gives_the_same_sha_wherever_it_is(folder: Path, tmp_path: Path) -> None:
    first = sha(folder)
    assert sha(folder) == first
    copy = shutil.copytree(folder, tmp_path / "elsewhere")
    assert sha(copy) == first
    os.utime(folder / "README.md", (1, 1))  # timestamps are not content
    assert sha(folder) == first


def test_an_empty_folder_has_the_digest_of_nothing(tmp_path: Path) -> None:
    assert sha(tmp_path) == EMPTY_SHA1


def test_the_sha_covers_paths_exec_bits_content_and_symlinks(folder: Path) -> None:
    seen = {sha(folder)}

    def changed() -> bool:
        digest = sha(folder)
        fresh = digest not in seen
        seen.add(digest)
        return fresh

    (folder / "apps/cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n")
    assert changed()
    (folder / "apps/cm.yaml").rename(folder / "apps/renamed.yaml")
    assert changed()
    (folder / "apps/renamed.yaml").chmod(0o755)
    assert changed()
    (folder / "apps/new.yaml").write_text("")
    assert changed()
    (folder / ".hidden").write_text("x")  # hidden files can still be rendered with a custom include
    assert changed()
    (folder / "link.yaml").symlink_to("apps/renamed.yaml")
    assert changed()
    (folder / "link.yaml").unlink()
    (folder / "link.yaml").symlink_to("apps/new.yaml")
    assert changed()
    (folder / "apps/empty").mkdir()  # an empty folder holds nothing a renderer could read
    assert not changed()


def test_git_metadata_is_ignored(folder: Path) -> None:
    before = sha(folder)
    (folder / ".git").mkdir()
    (folder / ".git/HEAD").write_text("ref: refs/heads/main\n")
    (folder / "apps/.git").write_text("gitdir: ../.git/modules/apps\n")
    assert sha(folder) == before


def test_a_missing_folder_is_path_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(PathNotFoundError) as info:
        DirectorySource(missing).fetch()
    assert info.value.url == str(missing)
    assert str(info.value) == f"{missing} does not exist"
    assert info.value.retryable is False


def test_a_file_is_not_a_folder(folder: Path) -> None:
    with pytest.raises(PathNotFoundError) as info:
        DirectorySource(folder / "README.md").fetch()
    assert info.value.url == str(folder / "README.md")
    assert str(info.value).endswith("README.md is not a folder")


def test_the_source_is_a_value(folder: Path) -> None:
    assert DirectorySource(str(folder)) == DirectorySource(folder)
    assert DirectorySource(str(folder)).path == folder


def test_a_source_reads_only_the_files_whose_status_changed(folder: Path, monkeypatch) -> None:
    read: list[str] = []
    real = directory._file_digest
    monkeypatch.setattr(directory, "_file_digest", lambda path: read.append(Path(path).name) or real(path))
    later = time.time_ns() + 10_000_000_000
    monkeypatch.setattr(directory, "time_ns", lambda: later)  # the files look older than the racy window
    source = DirectorySource(folder)
    first = source.fetch().revision.sha
    assert sorted(read) == ["README.md", "cm.yaml"]
    read.clear()
    assert source.fetch().revision.sha == first
    assert read == []  # nothing changed: nothing read
    cm = folder / "apps/cm.yaml"
    before = cm.stat()
    time.sleep(0.05)  # past the file system's timestamp tick
    cm.write_text(cm.read_text().replace("name: a", "name: b"))  # the same size
    os.utime(cm, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same modification time
    changed = source.fetch().revision.sha
    assert read == ["cm.yaml"]  # its change time still differs
    assert changed != first
    assert changed == folder_digest(folder)


def test_a_file_written_just_now_is_read_again_each_time(folder: Path, monkeypatch) -> None:
    read: list[str] = []
    real = directory._file_digest
    monkeypatch.setattr(directory, "_file_digest", lambda path: read.append(Path(path).name) or real(path))
    source = DirectorySource(folder)
    source.fetch()
    source.fetch()
    assert sorted(read) == ["README.md", "README.md", "cm.yaml", "cm.yaml"]  # within its timestamp's resolution
