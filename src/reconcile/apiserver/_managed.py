"""``metadata.managedFields``: who owns which fields of an object, as the API server records it.

Each entry names a manager, an operation (``Apply`` or ``Update``), the API version it wrote in, when its
ownership last changed and the fields it owns (a :data:`~reconcile.apiserver.fields.FieldSet`). The server
reads the live entries on every write, hands fields from one manager to another (an apply takes what it sets and
conflicts with other owners; an update takes what it changed) and renders the entries back in its own order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from reconcile.apiserver import fields
from reconcile.apiserver.fields import Comparison, FieldSet
from reconcile.errors import ConflictError
from reconcile.model import Manifest, ResourceKey


@attrs.frozen(kw_only=True)
class Entry:
    """One ``managedFields`` entry: what one manager owns through one operation."""

    manager: str
    operation: str
    api_version: str
    time: str
    fields: FieldSet = attrs.field(eq=False)

    def render(self) -> dict[str, Any]:
        """The entry as the server stores it."""
        return {
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields,
            "manager": self.manager,
            "operation": self.operation,
            "time": self.time,
        }


def read_entries(managed: object) -> list[Entry]:
    """Entries of a ``managedFields`` list, those of the same manager and operation merged."""
    merged: dict[tuple[str, str], Entry] = {}
    for raw in managed if isinstance(managed, list) else []:
        if not isinstance(raw, dict):
            continue
        entry = Entry(
            manager=str(raw.get("manager") or ""),
            operation=str(raw.get("operation") or "Update"),
            api_version=str(raw.get("apiVersion") or ""),
            time=str(raw.get("time") or ""),
            fields=raw.get("fieldsV1") or {},
        )
        found = merged.get((entry.manager, entry.operation))
        if found is not None:
            entry = attrs.evolve(entry, fields=fields.union(found.fields, entry.fields))
        merged[(entry.manager, entry.operation)] = entry
    return list(merged.values())


def render_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    """The entries as the server stores them, in its order: Apply before Update, then oldest first, then by manager."""
    ordered = sorted(entries, key=lambda e: (e.operation, e.time, e.manager, e.api_version))
    return [entry.render() for entry in ordered]


def owned_by_any(entries: list[Entry]) -> FieldSet:
    """The fields any of ``entries`` owns."""
    owned: FieldSet = {}
    for entry in entries:
        owned = fields.union(owned, entry.fields)
    return owned


def kept_after_apply(key: ResourceKey, others: list[Entry], comparison: Comparison, *, force: bool) -> list[Entry]:
    """What the other managers still own after an apply that changed ``comparison``.

    A field the apply changed that another manager owns is a conflict (:class:`ConflictError`) unless ``force``,
    which takes it from them; fields the apply removed belong to nobody.
    """
    changed = fields.union(comparison.added, comparison.modified)
    overlaps = [(entry, fields.intersection(entry.fields, changed)) for entry in others]
    clashes = [(entry, clash) for entry, clash in overlaps if not fields.is_empty(clash)]
    if clashes and not force:
        raise conflict(key, clashes)
    kept: list[Entry] = []
    for entry in others:
        owned = fields.difference(entry.fields, comparison.removed)
        if force:
            owned = fields.difference(owned, changed)
        if not fields.is_empty(owned):
            kept.append(attrs.evolve(entry, fields=owned))
    return kept


def kept_after_update(
    entries: list[Entry], manager: str, api_version: str, comparison: Comparison, now: Callable[[], str]
) -> list[Entry]:
    """The entries after an Update by ``manager`` that changed ``comparison``: it takes what it added or changed.

    Its own entry keeps its time when it took nothing new (``now`` is read only otherwise, as the server's clock).
    """
    taken = fields.union(comparison.added, comparison.modified)
    mine = next((e for e in entries if e.manager == manager and e.operation == "Update"), None)
    kept: list[Entry] = []
    for entry in entries:
        if entry is not mine:
            owned = fields.difference(fields.difference(entry.fields, taken), comparison.removed)
            if not fields.is_empty(owned):
                kept.append(attrs.evolve(entry, fields=owned))
    owned = fields.difference(fields.union(mine.fields if mine else {}, taken), comparison.removed)
    if not fields.is_empty(owned):
        time = mine.time if (mine is not None and fields.is_empty(taken)) else now()
        kept.append(Entry(manager=manager, operation="Update", api_version=api_version, time=time, fields=owned))
    return kept


def conflict(key: ResourceKey, clashes: list[tuple[Entry, FieldSet]]) -> ConflictError:
    """The error an apply meets when other managers own fields it changes, worded as the server words it."""
    lines: list[str] = []
    found: list[str] = []
    for entry, clash in sorted(clashes, key=lambda pair: pair[0].manager):
        owner = f'"{entry.manager}"' + (f" using {entry.api_version}" if entry.operation == "Update" else "")
        clash_paths = fields.paths(clash)
        found.extend(clash_paths)
        if len(clashes) == 1 and len(clash_paths) == 1:
            lines.append(f"conflict with {owner}: {clash_paths[0]}")
        else:
            lines.append(f"conflicts with {owner}:")
            lines.extend(f"- {path}" for path in clash_paths)
    count = len(found)
    message = f"Apply failed with {count} conflict{'s' if count != 1 else ''}: " + "\n".join(lines)
    # Trying again unchanged meets the same owners: only force or a change of config helps.
    return ConflictError(message, key=key, fields=tuple(sorted(set(found))), retryable=False)


def without_managed_fields(obj: Manifest | None) -> Manifest:
    """A shallow view of ``obj`` without ``metadata.managedFields`` (``{}`` for ``None``)."""
    if obj is None:
        return {}
    out = dict(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        out["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return out
