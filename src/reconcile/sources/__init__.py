"""Sources: where the desired state lives (a Git repository, a folder)."""

from reconcile.sources.directory import DirectorySource
from reconcile.sources.git import GitSource, LocalRepository

__all__ = ["DirectorySource", "GitSource", "LocalRepository"]
