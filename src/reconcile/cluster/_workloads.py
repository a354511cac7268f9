"""What the controllers and kubelets of a healthy cluster would write once a workload has settled.

The in-memory cluster runs no controllers, so a Deployment written to it stays without ready replicas and reads as
Progressing. With ``MemoryCluster(simulate_workloads=True)`` each workload's status is written at once in the
shape a settled rollout leaves: every replica updated, ready and available, a Job complete, a Pod running and
ready. Demos and notebooks then show the health a real cluster would reach.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconcile.model import GroupKind, Manifest


def _replicas(obj: Manifest) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return value if isinstance(value, int) and value >= 0 else 1


def _generation(obj: Manifest) -> int:
    return int((obj.get("metadata") or {}).get("generation") or 1)


def _deployment(obj: Manifest, now: str) -> dict[str, Any]:
    replicas = _replicas(obj)
    return {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "lastUpdateTime": now},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "lastUpdateTime": now},
        ],
    }


def _stateful_set(obj: Manifest, _: str) -> dict[str, Any]:
    replicas = _replicas(obj)
    revision = f"{(obj.get('metadata') or {}).get('name', '')}-{_generation(obj)}"
    return {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "readyReplicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
    }


def _daemon_set(obj: Manifest, _: str) -> dict[str, Any]:
    # One node: one pod, scheduled, updated, ready and available.
    return {
        "observedGeneration": _generation(obj),
        "desiredNumberScheduled": 1,
        "currentNumberScheduled": 1,
        "updatedNumberScheduled": 1,
        "numberReady": 1,
        "numberAvailable": 1,
        "numberMisscheduled": 0,
    }


def _replica_set(obj: Manifest, _: str) -> dict[str, Any]:
    replicas = _replicas(obj)
    return {
        "observedGeneration": _generation(obj),
        "replicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "fullyLabeledReplicas": replicas,
    }


def _job(obj: Manifest, now: str) -> dict[str, Any]:
    completions = (obj.get("spec") or {}).get("completions")
    return {
        "startTime": now,
        "completionTime": now,
        "succeeded": completions if isinstance(completions, int) and completions > 0 else 1,
        "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now}],
    }


def _pod(obj: Manifest, now: str) -> dict[str, Any]:
    containers = (obj.get("spec") or {}).get("containers") or []
    return {
        "phase": "Running",
        "startTime": now,
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
        "containerStatuses": [
            {
                "name": container.get("name", ""),
                "image": container.get("image", ""),
                "imageID": "",
                "ready": True,
                "restartCount": 0,
                "started": True,
                "state": {"running": {"startedAt": now}},
            }
            for container in containers
            if isinstance(container, dict)
        ],
    }


SETTLED_STATUS: dict[GroupKind, Callable[[Manifest, str], dict[str, Any]]] = {
    GroupKind("apps", "Deployment"): _deployment,
    GroupKind("apps", "StatefulSet"): _stateful_set,
    GroupKind("apps", "DaemonSet"): _daemon_set,
    GroupKind("apps", "ReplicaSet"): _replica_set,
    GroupKind("batch", "Job"): _job,
    GroupKind("", "Pod"): _pod,
}
"""The settled status of each workload kind, from the object and the time (RFC 3339)."""
