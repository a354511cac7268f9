"""Rendering for the command line: aligned tables, JSON and YAML, and the documents each verb prints."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reconcile.manifests import dump_yaml

if TYPE_CHECKING:
    from reconcile.diff import DiffResult, ResourceDiff
    from reconcile.model import Health, ResourceKey, Revision
    from reconcile.reconciler import ReconcileResult
    from reconcile.sync import SyncPlan, SyncResult

FORMATS = ("table", "wide", "json", "yaml")
"""The values of ``--output``."""


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns aligned as kubectl aligns them: two spaces apart, the last column not padded.

    Returns:
        The lines, each ending in a newline; only the header when there are no rows.
    """
    all_rows = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in all_rows]
    return "".join(f"{line}\n" for line in lines)


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``Name:   value`` lines, values aligned, as ``argocd app get`` prints its header."""
    width = max((len(name) for name, _ in pairs), default=0) + 2
    return "".join(f"{(name + ':').ljust(width)}{value}\n" for name, value in pairs)


def structured(document: Any, output: str) -> str:
    """``document`` as JSON (indented, key order kept) or YAML, ending in a newline."""
    if output == "json":
        return json.dumps(document, indent=2, default=str) + "\n"
    return dump_yaml(document)


def key_fields(key: ResourceKey) -> dict[str, str]:
    """The identity fields of an object, as Argo CD's resource status spells them."""
    return {"group": key.group, "kind": key.kind, "namespace": key.namespace, "name": key.name}


def health_document(health: Health | None) -> dict[str, str] | None:
    """``{"status": ..., "message": ...}`` (message only when there is one), or ``None``."""
    if health is None:
        return None
    document = {"status": str(health.status)}
    if health.message:
        document["message"] = health.message
    return document


def revision_document(revision: Revision | None) -> dict[str, str] | None:
    """The revision's sha, and the ref asked for when there was one."""
    if revision is None:
        return None
    document = {"sha": revision.sha}
    if revision.ref:
        document["ref"] = revision.ref
    return document


# ------------------------------------------------------------------------------------------------
# get and wait


def status_document(manifest: Mapping[str, Any], result: ReconcileResult) -> dict[str, Any]:
    """The Application manifest with a ``status`` in the shape Argo CD's Application status has."""
    status: dict[str, Any] = {
        "sync": {"status": str(result.sync_status), "revision": result.revision.sha if result.revision else ""},
        "health": health_document(result.health) or {"status": "Unknown"},
        "resources": [
            {
                **key_fields(r.key),
                "status": str(r.status),
                **({"health": health_document(r.health)} if r.health is not None else {}),
                **({"requiresPruning": True} if str(r.action) == "prune" else {}),
                "action": str(r.action),
                "message": r.message,
            }
            for r in result.resources
        ],
    }
    if result.error is not None:
        status["conditions"] = [{"type": "ComparisonError", "message": str(result.error)}]
    return {**manifest, "status": status}


def status_table(manifest: Mapping[str, Any], result: ReconcileResult, *, wide: bool) -> str:
    """``argocd app get``'s view: the application's fields, then one row per object."""
    spec = manifest.get("spec") or {}
    source = describe_source(spec)
    destination = spec.get("destination") or {}
    revision = f" ({result.revision})" if result.revision else ""
    health = str(result.health.status) if result.health is not None else "Unknown"
    pairs = [
        ("Name", str((manifest.get("metadata") or {}).get("name", ""))),
        ("Server", str(destination.get("server") or destination.get("name") or "")),
        ("Namespace", str(destination.get("namespace") or "")),
        ("Source", source),
        ("Sync Status", f"{result.sync_status}{revision}"),
        ("Health Status", health),
    ]
    if result.health is not None and result.health.message:
        pairs.append(("Health Message", result.health.message))
    if result.error is not None:
        pairs.append(("Error", str(result.error)))
    header = ["KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"]
    if wide:
        header = ["GROUP", *header, "ACTION", "MESSAGE"]
    rows = []
    for r in result.resources:
        row = [r.key.kind, r.key.namespace, r.key.name, str(r.status), str(r.health.status) if r.health else ""]
        if wide:
            row = [r.key.group, *row, str(r.action), r.message]
        rows.append(row)
    return fields(pairs) + ("\n" + table(header, rows) if rows else "")


def describe_source(spec: Mapping[str, Any]) -> str:
    """``repoURL path@targetRevision`` (or the chart) of the first source, for people."""
    sources = spec.get("sources") or [spec.get("source") or {}]
    first = sources[0] if sources else {}
    where = first.get("path") or first.get("chart") or ""
    revision = first.get("targetRevision") or "HEAD"
    text = " ".join(str(part) for part in (first.get("repoURL", ""), where) if part)
    more = f" (+{len(sources) - 1} more)" if len(sources) > 1 else ""
    return f"{text}@{revision}{more}" if text else ""


# ------------------------------------------------------------------------------------------------
# diff


def diff_document(app: str, diff: DiffResult) -> dict[str, Any]:
    """The differing objects and their changes, Secret values masked as the diff masks them."""
    return {
        "app": app,
        "status": str(diff.status),
        "resources": [_resource_diff(d) for d in diff.modified_resources],
    }


def _resource_diff(d: ResourceDiff) -> dict[str, Any]:
    state = "missing" if d.missing else "requiresPruning" if d.requires_pruning else "modified"
    changes = [{"op": c.op, "path": c.path, "old": c.old, "new": c.new} for c in d.changes]
    return {**key_fields(d.key), "state": state, "changes": changes}


def diff_summary_table(diff: DiffResult) -> str:
    """One row per differing object (``-o wide`` adds it before the unified diff)."""
    rows = []
    for d in diff.modified_resources:
        state = "missing" if d.missing else "requires pruning" if d.requires_pruning else f"{len(d.changes)} changes"
        rows.append([d.key.group, d.key.kind, d.key.namespace, d.key.name, state])
    return table(["GROUP", "KIND", "NAMESPACE", "NAME", "DIFFERENCE"], rows)


# ------------------------------------------------------------------------------------------------
# plan and sync


def plan_document(plan: SyncPlan) -> dict[str, Any]:
    """The plan's steps (phase, wave, tasks), problems and warnings."""
    return {
        "app": plan.app,
        "summary": plan.summary(),
        "steps": [
            {
                "phase": str(phase),
                "wave": wave,
                "tasks": [
                    {
                        **key_fields(task.key),
                        "action": "skip" if task.skipped else str(task.action),
                        "hook": task.hook,
                        "notes": task.notes(),
                    }
                    for task in tasks
                ],
            }
            for phase, wave, tasks in plan.steps()
        ],
        "problems": list(plan.problems),
        "warnings": list(plan.warnings),
    }


def sync_document(app: str, result: SyncResult) -> dict[str, Any]:
    """The operation's phase and message, and each task's result."""
    return {
        "app": app,
        "phase": str(result.phase),
        "message": result.message,
        "dryRun": result.dry_run,
        "revision": revision_document(result.revision),
        "resources": [
            {**key_fields(r.key), "status": str(r.status), "action": str(r.action), "message": r.message}
            for r in result.resources
        ],
    }


def sync_table(app: str, result: SyncResult, *, wide: bool) -> str:
    """The operation's outcome, then one row per task result."""
    pairs = [
        ("Application", app),
        *([("Revision", str(result.revision))] if result.revision else []),
        ("Phase", f"{result.phase}{' (dry run)' if result.dry_run else ''}"),
        ("Message", result.message),
        ("Duration", f"{(result.finished_at - result.started_at).total_seconds():.1f}s"),
    ]
    header = ["KIND", "NAMESPACE", "NAME", "STATUS", "MESSAGE"]
    if wide:
        header = ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "ACTION", "MESSAGE"]
    rows = []
    for r in result.resources:
        row = [r.key.kind, r.key.namespace, r.key.name, str(r.status), r.message]
        if wide:
            row = [r.key.group, *row[:4], str(r.action), r.message]
        rows.append(row)
    return fields(pairs) + ("\n" + table(header, rows) if rows else "")
