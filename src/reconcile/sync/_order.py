"""The order objects are applied in: kind order within a wave, as the reference engine does; pruning in reverse."""

from __future__ import annotations

from collections.abc import Iterable

from reconcile.model import ResourceKey

KIND_ORDER: tuple[str, ...] = (
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
)
_RANK = {kind: rank for rank, kind in enumerate(KIND_ORDER)}


def kind_rank(kind: str) -> int:
    """The kind's place in :data:`KIND_ORDER`; every other kind comes after all of these."""
    return _RANK.get(kind, len(KIND_ORDER))


def apply_order(keys: Iterable[ResourceKey]) -> list[ResourceKey]:
    """Keys in apply order: by kind rank, then kind, namespace and name so the order is total and stable."""
    return sorted(keys, key=lambda k: (kind_rank(k.kind), k.kind, k.group, k.namespace, k.name))


def prune_order(keys: Iterable[ResourceKey]) -> list[ResourceKey]:
    """Keys in prune order: the reverse of :func:`apply_order`."""
    return list(reversed(apply_order(keys)))
