"""Sources: where the desired state lives (a Git repository, a folder, a Helm chart repository)."""

from reconcile.sources._directory import DirectorySource
from reconcile.sources._git import GitSource
from reconcile.sources._helm_repository import HelmRepositorySource
from reconcile.sources._multi import MultiSource

__all__ = ["DirectorySource", "GitSource", "HelmRepositorySource", "MultiSource"]
