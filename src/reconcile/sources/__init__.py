"""Sources: where the desired state lives (a Git repository, a folder, a Helm chart repository, an OCI registry).

:class:`Credentials` holds repository credentials by URL, read from Argo CD's own Secrets, for every source.
"""

from reconcile.sources._credentials import Credentials, RepositoryCredential
from reconcile.sources._dependencies import ChartDependencies
from reconcile.sources._directory import DirectorySource
from reconcile.sources._git import GitCheckoutSource, GitSource
from reconcile.sources._helm_repository import HelmRepositorySource
from reconcile.sources._multi import MultiSource
from reconcile.sources._oci_source import OCISource

__all__ = [
    "ChartDependencies",
    "Credentials",
    "DirectorySource",
    "GitCheckoutSource",
    "GitSource",
    "HelmRepositorySource",
    "MultiSource",
    "OCISource",
    "RepositoryCredential",
]
