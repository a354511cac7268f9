"""HorizontalPodAutoscalers and PodDisruptionBudgets."""

from __future__ import annotations

import json
from typing import Any

from reconcile.health._status import annotations_of, items, section, text
from reconcile.model import Health, HealthStatus, Manifest, split_api_version

V1_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
"""Where autoscaling/v1 objects carry the v2 conditions, as a JSON list."""

_WAITING = Health(HealthStatus.PROGRESSING, "Waiting to Autoscale")
_DEGRADED_REASONS = frozenset(
    {
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "FailedGetContainerResourceMetric"),
        ("ScalingActive", "FailedGetObjectMetric"),
        ("ScalingActive", "FailedGetPodsMetric"),
        ("ScalingActive", "FailedGetExternalMetric"),
        ("ScalingActive", "InvalidSelector"),
    }
)
_HEALTHY_TYPES = frozenset({"AbleToScale", "ScalingLimited"})


class ConditionsAnnotationError(ValueError):
    """The v1 conditions annotation is not a JSON list of conditions."""


def horizontal_pod_autoscaler(obj: Manifest) -> Health:
    """An HPA: Degraded when any condition reports a failure, else Healthy on the first healthy condition.

    Raises:
        ConditionsAnnotationError: A v1 object's conditions annotation is not valid JSON (shown as Unknown).
    """
    if split_api_version(str(obj.get("apiVersion") or ""))[1] == "v1":
        raw = annotations_of(obj).get(V1_CONDITIONS)
        if raw is None:
            return _WAITING
        conditions = _parse(raw)
        if not conditions:
            return _WAITING
    else:
        conditions = items(section(obj, "status").get("conditions"))
    # Failures first, wherever they sit: AbleToScale=True often comes before a failing metric.
    for entry in conditions:
        if (text(entry.get("type")), text(entry.get("reason"))) in _DEGRADED_REASONS:
            return Health(HealthStatus.DEGRADED, text(entry.get("message")))
    for entry in conditions:
        if entry.get("type") in _HEALTHY_TYPES and entry.get("status") == "True":
            return Health(HealthStatus.HEALTHY, text(entry.get("message")))
    return _WAITING


def _parse(raw: Any) -> list[dict[str, Any]]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError as exc:
        raise ConditionsAnnotationError(f"failed to convert conditions annotation to typed: {exc}") from exc
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise ConditionsAnnotationError("failed to convert conditions annotation to typed: not a list of conditions")
    return value


def pod_disruption_budget(obj: Manifest) -> Health:
    """A PDB: Degraded on a False condition (except InsufficientPods), Healthy once conditions report."""
    result = Health(HealthStatus.PROGRESSING, "Waiting for status")
    for entry in items(section(obj, "status").get("conditions")):
        reason = text(entry.get("reason"))
        # InsufficientPods is a legitimate state (a budget for a scaled-down workload).
        if entry.get("status") == "False" and reason != "InsufficientPods":
            return Health(HealthStatus.DEGRADED, f"PodDisruptionBudget has {reason}")
        result = Health(HealthStatus.HEALTHY, f"PodDisruptionBudget has {reason}")
    return result
