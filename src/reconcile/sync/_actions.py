"""Applying a resource action's result to a cluster, as Argo CD's API server does.

A ``patch`` becomes a JSON merge patch from the live object to the object the script returned (only what the
script changed is sent); a ``create`` creates the object in the source object's namespace. Every change is first
sent as a dry run, so an action whose second change the server would refuse changes nothing; then the changes are
made for real (unless ``dry_run``).

A script that changes ``status`` is refused before anything is sent: a status change needs the status
subresource, which the clusters do not write yet, and silently dropping it would report an action that did not
happen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from reconcile.errors import ActionError
from reconcile.jsonvalues import json_equal
from reconcile.model import Manifest, ResourceKey
from reconcile.protocols import Cluster, ResourceActions

__all__ = ["ActionChange", "ActionOutcome", "run_action"]


@attrs.frozen
class ActionChange:
    """One change an action made (or would make).

    Attributes:
        operation: ``patch`` or ``create``.
        key: The object changed or created.
        patch: For a patch, the JSON merge patch sent; for a create, ``None``.
        object: The object as the server stored it (or would, on a dry run).
    """

    operation: str
    key: ResourceKey
    patch: Mapping[str, Any] | None = attrs.field(eq=False, repr=False)
    object: Manifest = attrs.field(eq=False, repr=False)


@attrs.frozen
class ActionOutcome:
    """What running a resource action did.

    Attributes:
        key: The object the action ran on.
        action: The action's name.
        dry_run: Whether the changes were only validated by the server.
        changes: The changes, in order; none when the script changed nothing.
    """

    key: ResourceKey
    action: str
    dry_run: bool
    changes: tuple[ActionChange, ...]


def run_action(
    cluster: Cluster,
    actions: ResourceActions,
    live: Manifest,
    name: str,
    params: Mapping[str, str] | None = None,
    *,
    dry_run: bool = False,
    field_manager: str = "reconcile",
) -> ActionOutcome:
    """Run the action ``name`` on the live object and apply what it returns.

    Raises:
        ActionError: No such action, its script failed, it changes ``status``, or it creates an object in another
            namespace than the source's.
        ClusterError: The server refused a change (nothing was changed: every change is tried as a dry run first).
    """
    key = ResourceKey.from_manifest(live)
    planned: list[tuple[str, ResourceKey, dict[str, Any] | None, Manifest]] = []
    for impacted in actions.run(live, name, params):
        target = dict(impacted.object)
        if impacted.operation == "patch":
            patch = merge_patch_between(live, target)
            if "status" in patch:
                raise ActionError(
                    f"{key}: action {name!r} changes status, which needs the status subresource; reconcile does not "
                    "write it yet, so the action was not run",
                    key=key,
                    action=name,
                )
            planned.append(("patch", key, patch, target))
        else:
            metadata = dict(target.get("metadata") or {})
            namespace = metadata.get("namespace") or key.namespace
            if key.namespace and namespace != key.namespace:
                raise ActionError(
                    f"{key}: action {name!r} creates an object in namespace {namespace!r}; only {key.namespace!r} "
                    "is allowed",
                    key=key,
                    action=name,
                )
            metadata["namespace"] = namespace or None
            target["metadata"] = {k: v for k, v in metadata.items() if v is not None}
            planned.append(("create", ResourceKey.from_manifest(target), None, target))
    for operation, target_key, changed, target in planned:  # the server checks every change before any is made
        _send(cluster, operation, target_key, changed, target, dry_run=True, field_manager=field_manager)
    changes = tuple(
        ActionChange(
            operation=operation,
            key=target_key,
            patch=changed,
            object=_send(cluster, operation, target_key, changed, target, dry_run=dry_run, field_manager=field_manager),
        )
        for operation, target_key, changed, target in planned
        if operation == "create" or changed
    )
    return ActionOutcome(key=key, action=name, dry_run=dry_run, changes=changes)


def _send(
    cluster: Cluster,
    operation: str,
    key: ResourceKey,
    patch: Mapping[str, Any] | None,
    target: Manifest,
    *,
    dry_run: bool,
    field_manager: str,
) -> Manifest:
    if operation == "patch":
        return cluster.patch(key, patch or {}, field_manager=field_manager, dry_run=dry_run)
    return cluster.create(target, field_manager=field_manager, dry_run=dry_run)


def merge_patch_between(before: Any, after: Any) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns the object ``before`` into ``after``."""
    patch: dict[str, Any] = {key: None for key in before if key not in after}
    for key, value in after.items():
        old = before.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = merge_patch_between(old, value)
            if inner:
                patch[key] = inner
        elif key not in before or not json_equal(old, value):
            patch[key] = value
    return patch
