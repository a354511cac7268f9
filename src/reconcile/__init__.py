"""reconcile: Argo CD's GitOps engine as a Python library.

Fetch the desired state from Git (or a folder), render it, compare it with a live cluster, and sync::

    import reconcile as rc

    app = rc.Reconciler(
        name="guestbook",
        source=rc.GitSource("https://example.com/repo.git", revision="main", path="guestbook"),
        renderer=rc.DirectoryRenderer(),
        cluster=rc.MemoryCluster(),
        policy=rc.SyncPolicy(automated=True, prune=True, self_heal=True),
    )
    result = app.reconcile()
"""

import importlib
from typing import TYPE_CHECKING, Any

from reconcile import argocd, diff, errors, health, sync
from reconcile.apiserver import validate
from reconcile.argocd.application import Application, UnsupportedFieldWarning
from reconcile.argocd.applicationset import ApplicationSet
from reconcile.cluster import MemoryCluster
from reconcile.errors import (
    ClusterError,
    ConfigurationError,
    DiffError,
    ManifestError,
    ReconcileError,
    RenderError,
    SourceError,
    SyncError,
)
from reconcile.model import (
    GroupKind,
    Health,
    HealthStatus,
    OperationPhase,
    ResourceKey,
    ResultCode,
    SyncAction,
    SyncStatus,
)
from reconcile.previews import preview
from reconcile.reconciler import Reconciler, ReconcileResult, ResourceStatus, SyncPolicy
from reconcile.renderers import (
    AutoRenderer,
    CachingRenderer,
    DirectoryRenderer,
    HelmRenderer,
    JsonnetRenderer,
    KustomizeRenderer,
    PluginRenderer,
    RenderCache,
)
from reconcile.sources import (
    Credentials,
    DirectorySource,
    GitSource,
    HelmRepositorySource,
    MultiSource,
    OCISource,
)
from reconcile.sync import RetryPolicy
from reconcile.watching import watch

if TYPE_CHECKING:
    from reconcile import testing
    from reconcile.cluster import KubernetesCluster

__version__ = "0.1.0.dev0"

# The front door: what a notebook user types after ``rc.``. The rest lives in the subpackages, each with its own
# ``__all__``: ``rc.diff``, ``rc.sync``, ``rc.health``, ``rc.errors``, ``rc.argocd``, ``rc.testing``, and
# ``reconcile.model``, ``reconcile.protocols``, ``reconcile.cluster``, ``reconcile.sources``, ``reconcile.renderers``;
# a host's callbacks and trees use ``reconcile.events`` and ``reconcile.tree``.
__all__ = [
    "Application",
    "ApplicationSet",
    "AutoRenderer",
    "CachingRenderer",
    "ClusterError",
    "ConfigurationError",
    "Credentials",
    "DiffError",
    "DirectoryRenderer",
    "DirectorySource",
    "GitSource",
    "GroupKind",
    "Health",
    "HealthStatus",
    "HelmRenderer",
    "HelmRepositorySource",
    "JsonnetRenderer",
    "KubernetesCluster",
    "KustomizeRenderer",
    "ManifestError",
    "MemoryCluster",
    "MultiSource",
    "OCISource",
    "OperationPhase",
    "PluginRenderer",
    "ReconcileError",
    "ReconcileResult",
    "Reconciler",
    "RenderCache",
    "RenderError",
    "ResourceKey",
    "ResourceStatus",
    "ResultCode",
    "RetryPolicy",
    "SourceError",
    "SyncAction",
    "SyncError",
    "SyncPolicy",
    "SyncStatus",
    "UnsupportedFieldWarning",
    "__version__",
    "argocd",
    "diff",
    "errors",
    "health",
    "preview",
    "sync",
    "testing",
    "validate",
    "watch",
]


def __getattr__(name: str) -> Any:
    # The Kubernetes client takes a while to import, and the test helpers start servers: load each when used.
    if name == "KubernetesCluster":
        return importlib.import_module("reconcile.cluster").KubernetesCluster
    if name == "testing":
        return importlib.import_module("reconcile.testing")
    raise AttributeError(f"module 'reconcile' has no attribute {name!r}")
