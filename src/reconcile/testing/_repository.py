"""A local Git repository that tests and notebooks write commits and tags into.

The library's other pygit2 user is the Git source (``reconcile.sources``), which only reads; this one writes, for
tests, notebooks and the quickstart. Every ``pygit2.GitError`` is turned into a
:class:`~reconcile.errors.SourceError` here.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

import pygit2
from pygit2.enums import CheckoutStrategy, FileMode, ObjectType

from reconcile.errors import ConfigurationError, RepositoryUnreachableError, RevisionNotFoundError, SourceError

__all__ = ["LocalRepository"]

_SIGNATURE = re.compile(r"\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>\s*")

_Change = tuple[bytes, int] | None  # (content, file mode), or None to delete


class LocalRepository:
    """Writes commits and tags straight into a local repository (bare by default): for tests and notebooks.

    ::

        repo = LocalRepository.init(tmp_path / "app.git")
        sha = repo.commit({"apps/web/deploy.yaml": manifest, "README.md": "hello"}, "first")
        source = GitSource(repo.url, "main", "apps/web")

    Args:
        path: An existing repository (a bare one, or a work tree's top folder).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self._repo = pygit2.Repository(str(path))
        except pygit2.GitError as exc:
            raise RepositoryUnreachableError(f"no Git repository at {path}: {exc}", url=str(path)) from exc

    @classmethod
    def init(cls, path: str | os.PathLike[str], *, bare: bool = True, initial_branch: str = "main") -> LocalRepository:
        """Create an empty repository whose ``HEAD`` names ``initial_branch``."""
        try:
            pygit2.init_repository(str(path), bare=bare, initial_head=initial_branch)
        except pygit2.GitError as exc:
            raise SourceError(f"cannot create a Git repository at {path}: {exc}", url=str(path)) from exc
        return cls(path)

    @property
    def path(self) -> Path:
        """The repository's folder (the work tree's top for a non-bare repository)."""
        return Path(self._repo.workdir or self._repo.path).resolve()

    @property
    def url(self) -> str:
        """The repository's ``file://`` URL."""
        return self.path.as_uri()

    def __repr__(self) -> str:
        return f"LocalRepository({str(self.path)!r})"

    def resolve(self, revision: str = "HEAD") -> str:
        """The 40-hex commit a revision (branch, tag, SHA, ``HEAD``) names here."""
        try:
            return str(self._repo.revparse_single(revision).peel(pygit2.Commit).id)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            raise RevisionNotFoundError(
                f"revision {revision!r} not found in {self.url}", url=self.url, revision=revision
            ) from exc

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        message: str,
        *,
        branch: str = "main",
        author: str = "reconcile <reconcile@localhost>",
    ) -> str:
        """Commit changes on top of ``branch`` and return the new commit's SHA.

        Args:
            files: ``path -> content``; a ``str`` is written as UTF-8, ``None`` deletes the file or folder.
                Paths use ``/``; files not named stay as they are on the branch.
            message: The commit message.
            branch: The branch to move; a new one starts from ``HEAD``'s commit.
            author: ``"Name <email>"``, used as author and committer.
        """
        changes: dict[tuple[str, ...], _Change] = {}
        for name, content in files.items():
            parts = _split_repo_path(name)
            if content is None:
                changes[parts] = None
            else:
                data = content.encode() if isinstance(content, str) else bytes(content)
                changes[parts] = (data, FileMode.BLOB)
        return self._commit(changes, message, branch=branch, author=author)

    def commit_directory(
        self,
        src: str | os.PathLike[str],
        message: str,
        *,
        prefix: str = "",
        branch: str = "main",
        author: str = "reconcile <reconcile@localhost>",
    ) -> str:
        """Commit every file below the folder ``src`` under ``prefix``, keeping symlinks and executable bits.

        Files already on the branch and absent from ``src`` are kept; ``.git`` folders are skipped.
        Returns the new commit's SHA.
        """
        root = Path(src)
        if not root.is_dir():
            raise ConfigurationError(f"commit_directory needs a folder, got {str(root)!r}")
        base = _split_repo_path(prefix) if prefix.strip("/") else ()
        changes: dict[tuple[str, ...], _Change] = {}
        for folder, dirs, names in os.walk(root):
            links = [d for d in dirs if Path(folder, d).is_symlink()]  # os.walk lists them but never enters
            dirs[:] = sorted(d for d in dirs if d != ".git" and d not in links)
            for name in [*names, *links]:
                file = Path(folder, name)
                parts = (*base, *file.relative_to(root).parts)
                if file.is_symlink():
                    changes[parts] = (os.fsencode(file.readlink()), FileMode.LINK)
                else:
                    executable = file.stat().st_mode & stat.S_IXUSR
                    changes[parts] = (
                        file.read_bytes(),
                        FileMode.BLOB_EXECUTABLE if executable else FileMode.BLOB,
                    )
        return self._commit(changes, message, branch=branch, author=author)

    def tag(self, name: str, target_sha: str | None = None, *, message: str | None = None) -> str:
        """Tag a commit (``HEAD``'s by default): annotated when ``message`` is given, lightweight otherwise.

        Returns:
            The SHA the tag reference points to: the tag object for an annotated tag, else the commit.
        """
        target = self.resolve(target_sha or "HEAD")
        try:
            if message is None:
                oid = self._repo.references.create(f"refs/tags/{name}", pygit2.Oid(hex=target)).target
            else:
                oid = self._repo.create_tag(
                    name, target, ObjectType.COMMIT, _signature("reconcile <reconcile@localhost>"), message
                )
        except (pygit2.GitError, ValueError) as exc:
            raise SourceError(f"cannot create tag {name!r} in {self.url}: {exc}", url=self.url) from exc
        return str(oid)

    def set_head(self, branch: str) -> None:
        """Point ``HEAD`` (the default branch clients see) at ``branch``."""
        try:
            self._repo.set_head(f"refs/heads/{branch}")
        except pygit2.GitError as exc:
            raise SourceError(f"cannot point HEAD at {branch!r} in {self.url}: {exc}", url=self.url) from exc

    def _commit(self, changes: Mapping[tuple[str, ...], _Change], message: str, *, branch: str, author: str) -> str:
        signature = _signature(author)
        refname = f"refs/heads/{branch}"
        try:
            # A new branch starts from HEAD's commit, like `git switch -c` (empty repository: no parent).
            ref = self._repo.references.get(refname)
            if ref is None and not self._repo.head_is_unborn:
                ref = self._repo.head
            parent = self._repo[ref.target].peel(pygit2.Commit) if ref is not None else None
            tree = _build_tree(self._repo, parent.tree if parent is not None else None, changes)
            if tree is None:
                tree = self._repo.TreeBuilder().write()  # everything deleted: the empty tree
            parents = [parent.id] if parent is not None else []
            oid = self._repo.create_commit(refname, signature, signature, message, tree, parents)
            head = self._repo.references.get("HEAD")
            if not self._repo.is_bare and head is not None and head.target == refname:
                # The branch is checked out: make the work tree and index follow, like `git reset --hard`.
                self._repo.checkout_tree(  # type: ignore[no-untyped-call]
                    self._repo[oid], strategy=CheckoutStrategy.FORCE
                )
        except pygit2.GitError as exc:
            raise SourceError(f"cannot commit to {branch!r} in {self.url}: {exc}", url=self.url) from exc
        return str(oid)


def _split_repo_path(name: str) -> tuple[str, ...]:
    parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
    if not parts or name.startswith("/") or any(p == ".." or p.lower() == ".git" for p in parts):
        raise ConfigurationError(f"{name!r} is not a relative path inside a repository")
    return parts


def _signature(author: str) -> pygit2.Signature:
    match = _SIGNATURE.fullmatch(author)
    if match is None or not match["name"] or not match["email"]:
        raise ConfigurationError(f"author must look like 'Name <email>', got {author!r}")
    return pygit2.Signature(match["name"], match["email"])


def _build_tree(
    repo: pygit2.Repository, base: pygit2.Tree | None, changes: Mapping[tuple[str, ...], _Change]
) -> pygit2.Oid | None:
    """Write ``base`` with ``changes`` applied; ``None`` when nothing is left (git keeps no empty folders)."""
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    nested: dict[str, dict[tuple[str, ...], _Change]] = {}
    for parts, change in changes.items():
        head, rest = parts[0], parts[1:]
        if rest:
            nested.setdefault(head, {})[rest] = change
        elif head in nested or any(p[0] == head and len(p) > 1 for p in changes):
            raise ConfigurationError(f"{'/'.join(parts)!r} is both a file and a folder in one commit")
        elif change is None:
            if builder.get(head) is not None:
                builder.remove(head)
        else:
            data, mode = change
            builder.insert(head, repo.create_blob(data), mode)
    for name, sub in nested.items():
        existing = builder.get(name)
        subtree = existing.peel(pygit2.Tree) if existing is not None and existing.type == ObjectType.TREE else None
        oid = _build_tree(repo, subtree, sub)
        if oid is None:
            if existing is not None:
                builder.remove(name)
        else:
            builder.insert(name, oid, FileMode.TREE)
    return builder.write() if len(builder) else None
