"""The built-in checks, by group and kind.

The reference's own checks, plus CronJob and PodDisruptionBudget (Argo CD ships those as Lua scripts) and
CustomResourceDefinition.
"""

from __future__ import annotations

from reconcile.health import _apis as apis
from reconcile.health import _batch as batch
from reconcile.health import _network as network
from reconcile.health import _pod as pod
from reconcile.health import _scaling as scaling
from reconcile.health import _storage as storage
from reconcile.health import _workloads as workloads
from reconcile.model import GroupKind
from reconcile.protocols import HealthCheck

_CHECKS: dict[GroupKind, HealthCheck] = {
    GroupKind("apps", "Deployment"): workloads.deployment,
    GroupKind("apps", "StatefulSet"): workloads.stateful_set,
    GroupKind("apps", "DaemonSet"): workloads.daemon_set,
    GroupKind("apps", "ReplicaSet"): workloads.replica_set,
    GroupKind("", "Pod"): pod.pod,
    GroupKind("", "Service"): network.service,
    GroupKind("", "PersistentVolumeClaim"): storage.persistent_volume_claim,
    GroupKind("extensions", "Ingress"): network.ingress,
    GroupKind("networking.k8s.io", "Ingress"): network.ingress,
    GroupKind("batch", "Job"): batch.job,
    GroupKind("batch", "CronJob"): batch.cron_job,
    GroupKind("autoscaling", "HorizontalPodAutoscaler"): scaling.horizontal_pod_autoscaler,
    GroupKind("policy", "PodDisruptionBudget"): scaling.pod_disruption_budget,
    GroupKind("apiregistration.k8s.io", "APIService"): apis.api_service,
    GroupKind("apiextensions.k8s.io", "CustomResourceDefinition"): apis.custom_resource_definition,
}


class BuiltinHealthChecks:
    """The library's own checks; :func:`reconcile.health._assess` consults them after any custom ones."""

    def find(self, group_kind: GroupKind) -> HealthCheck | None:
        """The built-in check for ``group_kind``, or ``None`` when the kind has none."""
        return _CHECKS.get(group_kind)

    def kinds(self) -> tuple[GroupKind, ...]:
        """Every group and kind with a built-in check, sorted."""
        return tuple(sorted(_CHECKS))
