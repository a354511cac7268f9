"""Sources: where the desired state lives (a Git repository, a folder, a Helm chart repository)."""

from reconcile.sources.directory import DirectorySource
from reconcile.sources.git import GitSource
from reconcile.sources.helm_repository import HelmRepositorySource
from reconcile.sources.multi import MultiSource

__all__ = ["DirectorySource", "GitSource", "HelmRepositorySource", "MultiSource"]
