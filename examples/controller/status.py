"""An Application's status in Argo CD's shape, built from a :class:`reconcile.ReconcileResult`.

Only what a pass learned is written: ``sync``, ``health``, ``resources``, ``conditions`` and ``reconciledAt``
always; ``operationState`` only when the pass ran a sync (or failed to start one), otherwise the last operation's
state stays, as in Argo CD. :func:`merge_patch` turns an old and a new status into the JSON merge patch that
makes one into the other, so fields that went away are removed rather than merged over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from reconcile import ReconcileResult, ResourceKey, ResourceStatus
from reconcile.argocd.hooks import hook_phases
from reconcile.model import split_api_version
from reconcile.sync import ResourceResult, SyncResult

RECONCILED_AT = "reconciledAt"
_VOLATILE = frozenset({RECONCILED_AT})  # changes every pass: writing for it alone would write every pass


def timestamp(moment: dt.datetime) -> str:
    """A time as Argo CD writes it in status: RFC 3339 in UTC, whole seconds."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def app_status(
    result: ReconcileResult, *, spec: Mapping[str, Any], previous: Mapping[str, Any] | None, now: dt.datetime
) -> dict[str, Any]:
    """The status to write after a pass.

    Args:
        result: What the pass found and did.
        spec: The Application's spec (its source and destination are echoed in ``sync.comparedTo``).
        previous: The status the Application has now (its ``operationState`` is kept when no sync ran).
        now: The time of the pass.
    """
    previous = previous or {}
    versions = _versions(result)
    sync: dict[str, Any] = {"status": str(result.sync_status), "comparedTo": _compared_to(spec)}
    if result.revision is not None:
        sync["revision"] = result.revision.sha
    status: dict[str, Any] = {
        "sync": sync,
        "health": _health(result, previous),
        "resources": [_resource(r, versions.get(r.key, "")) for r in result.resources],
        RECONCILED_AT: timestamp(now),
    }
    operation = _operation_state(result, spec, now)
    if operation is not None:
        status["operationState"] = operation
    elif "operationState" in previous:
        status["operationState"] = previous["operationState"]
    conditions = _conditions(result, previous, now)
    if conditions:
        status["conditions"] = conditions
    return status


def error_status(
    message: str, *, previous: Mapping[str, Any] | None, now: dt.datetime, kind: str = "InvalidSpecError"
) -> dict[str, Any]:
    """The status of an Application that could not even be set up (its spec is wrong): one condition says why."""
    previous = previous or {}
    status: dict[str, Any] = {
        "sync": {"status": "Unknown"},
        "health": previous.get("health") or {"status": "Unknown"},
        "conditions": _keep_times([{"type": kind, "message": message}], previous, now),
        RECONCILED_AT: timestamp(now),
    }
    if "operationState" in previous:
        status["operationState"] = previous["operationState"]
    return status


def changed(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether ``new`` says anything ``old`` does not, leaving out ``reconciledAt``."""
    return _lasting(old) != _lasting(new)


def _lasting(status: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (status or {}).items() if key not in _VOLATILE}


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``: removed keys become ``None``."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif key not in old or before != value:
            patch[key] = value
    return patch


def _compared_to(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {name: spec[name] for name in ("source", "sources", "destination") if name in spec}


def _health(result: ReconcileResult, previous: Mapping[str, Any]) -> dict[str, Any]:
    if result.health is None:  # the pass failed before reading the cluster: health is not known anew
        return dict(previous.get("health") or {"status": "Unknown"})
    health = {"status": str(result.health.status)}
    if result.health.message:
        health["message"] = result.health.message
    return health


def _versions(result: ReconcileResult) -> dict[ResourceKey, str]:
    versions: dict[ResourceKey, str] = {}
    for d in result.diff.resources if result.diff is not None else ():
        manifest = d.desired or d.live or {}
        versions[d.key] = split_api_version(str(manifest.get("apiVersion") or ""))[1]
    return versions


def _identity(key: ResourceKey, version: str) -> dict[str, Any]:
    identity = {"group": key.group, "version": version, "kind": key.kind, "namespace": key.namespace}
    return {**identity, "name": key.name}


def _resource(resource: ResourceStatus, version: str) -> dict[str, Any]:
    entry = {**_identity(resource.key, version), "status": str(resource.status)}
    if resource.health is not None:
        health = {"status": str(resource.health.status)}
        if resource.health.message:
            health["message"] = resource.health.message
        entry["health"] = health
    if resource.action.value == "prune":
        entry["requiresPruning"] = True
    return entry


def _operation_state(result: ReconcileResult, spec: Mapping[str, Any], now: dt.datetime) -> dict[str, Any] | None:
    """The operation this pass ran, or ``None`` when it ran none."""
    revision = result.revision.sha if result.revision is not None else ""
    prune = bool(((spec.get("syncPolicy") or {}).get("automated") or {}).get("prune"))
    operation = {"sync": {"revision": revision, "prune": prune}, "initiatedBy": {"automated": True}}
    if result.sync is not None:
        return _sync_state(result.sync, operation, revision, spec)
    if result.error is not None and result.revision is not None:  # compared, then the sync refused to start
        moment = timestamp(now)
        return {
            "operation": operation,
            "phase": "Error",
            "message": str(result.error),
            "startedAt": moment,
            "finishedAt": moment,
        }
    return None


def _sync_state(
    sync: SyncResult, operation: Mapping[str, Any], revision: str, spec: Mapping[str, Any]
) -> dict[str, Any]:
    sync_result: dict[str, Any] = {"revision": revision, "resources": [_task(r) for r in sync.resources]}
    if "source" in spec:
        sync_result["source"] = spec["source"]
    return {
        "operation": operation,
        "phase": str(sync.phase),
        "message": sync.message,
        "startedAt": timestamp(sync.started_at),
        "finishedAt": timestamp(sync.finished_at),
        "syncResult": sync_result,
    }


def _task(task: ResourceResult) -> dict[str, Any]:
    version = split_api_version(str((task.stored or {}).get("apiVersion") or ""))[1]
    entry = {**_identity(task.key, version), "status": str(task.status), "message": task.message}
    phases = hook_phases(task.stored) if task.stored is not None else None
    if phases:  # a hook: Argo CD reports the phase it ran in and how it ended
        entry["syncPhase"] = str(phases[0])
        entry["hookType"] = str(phases[0])
        entry["hookPhase"] = "Succeeded" if task.succeeded else "Failed"
    else:
        entry["syncPhase"] = "Sync"
    return entry


def _conditions(result: ReconcileResult, previous: Mapping[str, Any], now: dt.datetime) -> list[dict[str, Any]]:
    if result.error is None:
        return []
    kind = "ComparisonError" if result.revision is None else "SyncError"
    return _keep_times([{"type": kind, "message": str(result.error)}], previous, now)


def _keep_times(
    conditions: Iterable[dict[str, Any]], previous: Mapping[str, Any], now: dt.datetime
) -> list[dict[str, Any]]:
    """Conditions with their ``lastTransitionTime``: kept from before when the same condition was there."""
    seen = {(c.get("type"), c.get("message")): c.get("lastTransitionTime") for c in previous.get("conditions") or ()}
    return [{**c, "lastTransitionTime": seen.get((c["type"], c["message"])) or timestamp(now)} for c in conditions]
