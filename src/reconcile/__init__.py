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

from typing import TYPE_CHECKING, Any

from reconcile import diff, health, sync
from reconcile.argocd.application import Application, UnsupportedFieldWarning
from reconcile.argocd.tracking import TRACKING_ANNOTATION
from reconcile.cluster.memory import MemoryCluster
from reconcile.diff import Change, Differ, DiffResult, DiffSettings, IgnoreRule, KnownTypeField, ResourceDiff
from reconcile.errors import (
    AuthenticationError,
    ClusterError,
    ConfigurationError,
    ConflictError,
    DiffError,
    DuplicateResourceError,
    InvalidError,
    ManifestError,
    NotFoundError,
    PathEscapeError,
    PathNotFoundError,
    ReconcileError,
    RenderError,
    RepositoryUnreachableError,
    RevisionNotFoundError,
    SourceError,
    SyncError,
    ToolError,
    ToolNotFoundError,
    UnknownKindError,
)
from reconcile.health import CustomHealthChecks, Health, LuaHealthChecks
from reconcile.model import (
    Capabilities,
    GroupKind,
    HealthStatus,
    Location,
    Manifest,
    OperationPhase,
    Resource,
    ResourceKey,
    ResultCode,
    Revision,
    Snapshot,
    SyncAction,
    SyncStatus,
)
from reconcile.protocols import Cluster, Renderer, Source
from reconcile.reconciler import Reconciler, ReconcileResult, ResourceStatus, SyncPolicy
from reconcile.renderers import (
    AutoRenderer,
    CachingRenderer,
    DirectoryRenderer,
    HelmRenderer,
    JsonnetRenderer,
    KustomizeRenderer,
    RenderCache,
)
from reconcile.sources.directory import DirectorySource
from reconcile.sources.git import GitSource, LocalRepository
from reconcile.sources.helm_repository import HelmRepositorySource
from reconcile.sources.multi import MultiSource
from reconcile.sync import (
    ResourceResult,
    RetryPolicy,
    Syncer,
    SyncOperation,
    SyncOptions,
    SyncPhase,
    SyncPlan,
    SyncResult,
)

if TYPE_CHECKING:
    from reconcile.cluster.kubernetes import KubernetesCluster

__version__ = "0.1.0.dev0"

__all__ = [
    "TRACKING_ANNOTATION",
    "Application",
    "AuthenticationError",
    "AutoRenderer",
    "CachingRenderer",
    "Capabilities",
    "Change",
    "Cluster",
    "ClusterError",
    "ConfigurationError",
    "ConflictError",
    "CustomHealthChecks",
    "DiffError",
    "DiffResult",
    "DiffSettings",
    "Differ",
    "DirectoryRenderer",
    "DirectorySource",
    "DuplicateResourceError",
    "GitSource",
    "GroupKind",
    "Health",
    "HealthStatus",
    "HelmRenderer",
    "HelmRepositorySource",
    "IgnoreRule",
    "InvalidError",
    "JsonnetRenderer",
    "KnownTypeField",
    "KubernetesCluster",
    "KustomizeRenderer",
    "LocalRepository",
    "Location",
    "LuaHealthChecks",
    "Manifest",
    "ManifestError",
    "MemoryCluster",
    "MultiSource",
    "NotFoundError",
    "OperationPhase",
    "PathEscapeError",
    "PathNotFoundError",
    "ReconcileError",
    "ReconcileResult",
    "Reconciler",
    "RenderCache",
    "RenderError",
    "Renderer",
    "RepositoryUnreachableError",
    "Resource",
    "ResourceDiff",
    "ResourceKey",
    "ResourceResult",
    "ResourceStatus",
    "ResultCode",
    "RetryPolicy",
    "Revision",
    "RevisionNotFoundError",
    "Snapshot",
    "Source",
    "SourceError",
    "SyncAction",
    "SyncError",
    "SyncOperation",
    "SyncOptions",
    "SyncPhase",
    "SyncPlan",
    "SyncPolicy",
    "SyncResult",
    "SyncStatus",
    "Syncer",
    "ToolError",
    "ToolNotFoundError",
    "UnknownKindError",
    "UnsupportedFieldWarning",
    "__version__",
    "diff",
    "health",
    "sync",
]


def __getattr__(name: str) -> Any:
    # The Kubernetes client takes a while to import: load it only for hosts that use a real cluster.
    if name == "KubernetesCluster":
        from reconcile.cluster.kubernetes import KubernetesCluster  # noqa: PLC0415

        return KubernetesCluster
    raise AttributeError(f"module 'reconcile' has no attribute {name!r}")
