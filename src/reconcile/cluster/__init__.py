"""Clusters: the Kubernetes API the library talks to (the in-memory model for now)."""

from reconcile.cluster.memory import MemoryCluster, Watch, WatchEvent

__all__ = ["MemoryCluster", "Watch", "WatchEvent"]
