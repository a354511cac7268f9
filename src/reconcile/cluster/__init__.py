"""Clusters: the Kubernetes API the library talks to (the :class:`~reconcile.protocols.Cluster` protocol).

- :class:`MemoryCluster`: an API server of a chosen Kubernetes release, in memory (``reconcile.apiserver``).
- :class:`KubernetesCluster`: a real cluster through the ``kubernetes`` client; imported on first use, because
  the client takes a while to import.
- :class:`CachedCluster`: reads served from informers (one LIST, then a watch per kind), writes passed through,
  for hosts that reconcile again and again; :class:`Informer` is the cache behind it.
"""

from typing import TYPE_CHECKING, Any

from reconcile.cluster._cached import CachedCluster
from reconcile.cluster._informer import Informer
from reconcile.cluster._memory import MemoryCluster

if TYPE_CHECKING:
    from reconcile.cluster._kubernetes import KubernetesCluster

__all__ = ["CachedCluster", "Informer", "KubernetesCluster", "MemoryCluster"]


def __getattr__(name: str) -> Any:
    if name == "KubernetesCluster":
        from reconcile.cluster._kubernetes import KubernetesCluster  # noqa: PLC0415 - a slow import, when used

        return KubernetesCluster
    raise AttributeError(f"module 'reconcile.cluster' has no attribute {name!r}")
