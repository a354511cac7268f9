"""Pods: container errors, phase, readiness; finite pods (restartPolicy Never/OnFailure) stay Progressing."""

from __future__ import annotations

from typing import Any

from reconcile.argocd.annotations import IGNORE_RESTART_POLICY
from reconcile.argocd.hooks import is_hook
from reconcile.health._status import annotations_of, condition, field, integer, items, section, text
from reconcile.model import Health, HealthStatus, Manifest


def _restart_policy(obj: Manifest) -> str:
    # No default: the API server always sets one, and the reference treats a missing policy as none.
    policy = text(field(obj, "spec", "restartPolicy"))
    if annotations_of(obj).get(IGNORE_RESTART_POLICY) == "true" and not is_hook(obj):
        return "Always"
    return policy


def _is_error_reason(reason: str) -> bool:
    # CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError and the like.
    return reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def _fail_message(container: dict[str, Any]) -> str:
    terminated = field(container, "state", "terminated")
    if not isinstance(terminated, dict):
        return ""
    if text(terminated.get("message")):
        return text(terminated["message"])
    if terminated.get("reason") == "OOMKilled":
        return "OOMKilled"
    code = integer(terminated.get("exitCode"))
    if code != 0:
        return f'container "{text(container.get("name"))}" failed with exit code {code}'
    return ""


def pod(obj: Manifest) -> Health:  # noqa: PLR0911 - one per verdict of the reference
    """A Pod's health from its phase, its containers and its restart policy."""
    status = section(obj, "status")
    message = text(status.get("message"))
    policy = _restart_policy(obj)
    containers = items(status.get("containerStatuses"))
    # Only long-running pods turn Degraded on a waiting error: a hook pod whose image is late would otherwise
    # fail its sync early and then run anyway once the image arrives.
    if policy == "Always":
        errors = [
            text(waiting.get("message"))
            for waiting in (field(c, "state", "waiting") for c in containers)
            if isinstance(waiting, dict) and _is_error_reason(text(waiting.get("reason")))
        ]
        if errors:
            return Health(HealthStatus.DEGRADED, ", ".join(errors))
    phase = status.get("phase")
    if phase == "Pending":
        return Health(HealthStatus.PROGRESSING, message)
    if phase == "Succeeded":
        return Health(HealthStatus.HEALTHY, message)
    if phase == "Failed":
        return _failed(message, items(status.get("initContainerStatuses")) + containers)
    if phase == "Running" and policy == "Always":
        return _running(obj, message, containers)
    if phase == "Running" and policy in ("OnFailure", "Never"):
        # Finite pods are usually hooks: Running means not done yet.
        return Health(HealthStatus.PROGRESSING, message)
    return Health(HealthStatus.UNKNOWN, message)


def _failed(message: str, containers: list[dict[str, Any]]) -> Health:
    if message:
        return Health(HealthStatus.DEGRADED, message)
    for container in containers:
        if reason := _fail_message(container):
            return Health(HealthStatus.DEGRADED, reason)
    return Health(HealthStatus.DEGRADED)


def _running(obj: Manifest, message: str, containers: list[dict[str, Any]]) -> Health:
    ready = condition(obj, "Ready")
    if ready is not None and ready.get("status") == "True":
        return Health(HealthStatus.HEALTHY, message)
    # Not ready and a container has terminated before: it is crashing rather than starting.
    if any(isinstance(field(c, "lastState", "terminated"), dict) for c in containers):
        return Health(HealthStatus.DEGRADED, message)
    return Health(HealthStatus.PROGRESSING, message)
