"""Deployments, StatefulSets, DaemonSets and ReplicaSets: rollout status, as ``kubectl rollout status`` reads it."""

from __future__ import annotations

from reconcile.health._status import condition, field, integer, section, text
from reconcile.model import Health, HealthStatus, Manifest

_PROGRESSING = HealthStatus.PROGRESSING


def _name(obj: Manifest) -> str:
    return text(field(obj, "metadata", "name"))


def _replicas(obj: Manifest) -> int | None:
    """``spec.replicas``, or ``None`` when unset (the reference skips replica checks then)."""
    value = field(obj, "spec", "replicas")
    return None if value is None else integer(value)


def deployment(obj: Manifest) -> Health:  # noqa: PLR0911 - one per verdict of the reference
    """A Deployment: Suspended when paused, Degraded past its progress deadline, Progressing mid-rollout."""
    if field(obj, "spec", "paused") is True:
        return Health(HealthStatus.SUSPENDED, "Deployment is paused")
    status = section(obj, "status")
    if integer(field(obj, "metadata", "generation")) > integer(status.get("observedGeneration")):
        return Health(
            _PROGRESSING, "Waiting for rollout to finish: observed deployment generation less than desired generation"
        )
    progressing = condition(obj, "Progressing")
    wanted = _replicas(obj)
    updated = integer(status.get("updatedReplicas"))
    total = integer(status.get("replicas"))
    available = integer(status.get("availableReplicas"))
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        return Health(HealthStatus.DEGRADED, f'Deployment "{_name(obj)}" exceeded its progress deadline')
    if wanted is not None and updated < wanted:
        return Health(
            _PROGRESSING, f"Waiting for rollout to finish: {updated} out of {wanted} new replicas have been updated..."
        )
    if total > updated:
        return Health(
            _PROGRESSING, f"Waiting for rollout to finish: {total - updated} old replicas are pending termination..."
        )
    if available < updated:
        return Health(
            _PROGRESSING, f"Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        )
    return Health(HealthStatus.HEALTHY)


def stateful_set(obj: Manifest) -> Health:  # noqa: PLR0911 - one per verdict of the reference
    """A StatefulSet: Progressing until observed, ready, and (rolling update) on its update revision."""
    status = section(obj, "status")
    observed = integer(status.get("observedGeneration"))
    if observed == 0 or integer(field(obj, "metadata", "generation")) > observed:
        return Health(_PROGRESSING, "Waiting for statefulset spec update to be observed...")
    wanted = _replicas(obj)
    ready = integer(status.get("readyReplicas"))
    updated = integer(status.get("updatedReplicas"))
    if wanted is not None and ready < wanted:
        return Health(_PROGRESSING, f"Waiting for {wanted - ready} pods to be ready...")
    strategy = section(obj, "spec", "updateStrategy")
    rolling = strategy.get("rollingUpdate")
    if strategy.get("type") == "RollingUpdate" and isinstance(rolling, dict):
        partition = rolling.get("partition")
        if wanted is not None and partition is not None and updated < wanted - integer(partition):
            return Health(
                _PROGRESSING,
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {wanted - integer(partition)} new pods have been updated...",
            )
        return Health(HealthStatus.HEALTHY, f"partitioned roll out complete: {updated} new pods have been updated...")
    if strategy.get("type") == "OnDelete":
        return Health(HealthStatus.HEALTHY, f"statefulset has {ready} ready pods")
    update_revision = text(status.get("updateRevision"))
    current_revision = text(status.get("currentRevision"))
    if update_revision != current_revision:
        return Health(
            _PROGRESSING,
            f"waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}...",
        )
    current = integer(status.get("currentReplicas"))
    return Health(
        HealthStatus.HEALTHY, f"statefulset rolling update complete {current} pods at revision {current_revision}..."
    )


def daemon_set(obj: Manifest) -> Health:
    """A DaemonSet: Progressing until every scheduled pod is updated and available (OnDelete: Healthy)."""
    status = section(obj, "status")
    if integer(field(obj, "metadata", "generation")) > integer(status.get("observedGeneration")):
        return Health(
            _PROGRESSING, "Waiting for rollout to finish: observed daemon set generation less than desired generation"
        )
    updated = integer(status.get("updatedNumberScheduled"))
    desired = integer(status.get("desiredNumberScheduled"))
    available = integer(status.get("numberAvailable"))
    if field(obj, "spec", "updateStrategy", "type") == "OnDelete":
        return Health(HealthStatus.HEALTHY, f"daemon set {updated} out of {desired} new pods have been updated")
    name = _name(obj)
    if updated < desired:
        return Health(
            _PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: '
            f"{updated} out of {desired} new pods have been updated...",
        )
    if available < desired:
        return Health(
            _PROGRESSING,
            f'Waiting for daemon set "{name}" rollout to finish: '
            f"{available} of {desired} updated pods are available...",
        )
    return Health(HealthStatus.HEALTHY)


def replica_set(obj: Manifest) -> Health:
    """A ReplicaSet: Degraded on ReplicaFailure, Progressing until its replicas are available."""
    status = section(obj, "status")
    if integer(field(obj, "metadata", "generation")) > integer(status.get("observedGeneration")):
        return Health(
            _PROGRESSING, "Waiting for rollout to finish: observed replica set generation less than desired generation"
        )
    failure = condition(obj, "ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        return Health(HealthStatus.DEGRADED, text(failure.get("message")))
    wanted = _replicas(obj)
    available = integer(status.get("availableReplicas"))
    if wanted is not None and available < wanted:
        return Health(
            _PROGRESSING, f"Waiting for rollout to finish: {available} out of {wanted} new replicas are available..."
        )
    return Health(HealthStatus.HEALTHY)
