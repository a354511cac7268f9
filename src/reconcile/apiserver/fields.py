"""Server-side apply field sets and merging, as the Kubernetes API server does them.

A field set is the dict the server stores in ``metadata.managedFields[].fieldsV1``: a trie whose keys are
path elements (``f:name`` a field, ``k:{"name":"web"}`` an item of a keyed list, ``v:"x"`` a member of a set)
and whose leaves are ``{}``. A node that is in the set and also has children carries ``".": {}``::

    {"f:spec": {"f:replicas": {}, "f:containers": {'k:{"name":"web"}': {".": {}, "f:image": {}}}}}

Every function is pure: it takes plain dicts, never mutates them, and returns new objects. The rules follow
sigs.k8s.io/structured-merge-diff as the API server runs it (the schema says which lists are keyed,
:func:`reconcile.apiserver.list_type`); server-owned identity fields (``apiVersion``, ``kind``,
``metadata.name``, ``metadata.uid``...) are never part of a field set, as the server strips them too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from reconcile.apiserver import _builtin as schema
from reconcile.apiserver._builtin import LAST_APPLIED, SECRET, SERVER_SET_METADATA
from reconcile.apiserver._lists import FieldPath, ListType, SchemaOverrides
from reconcile.apiserver._schema import APISchema
from reconcile.jsonvalues import deep_copy, json_equal, without_nulls
from reconcile.model import GroupKind, Manifest, split_api_version

__all__ = [
    "Comparison",
    "applied_field_set",
    "apply_configuration",
    "as_stored",
    "changed_fields",
    "compare",
    "difference",
    "field_set",
    "find_conflicts",
    "intersection",
    "is_empty",
    "list_key_errors",
    "merge_apply",
    "migrate_client_side_apply",
    "owned_fields",
    "owners",
    "paths",
    "predict_apply",
    "removed_fields",
    "union",
]

FieldSet = dict[str, Any]
"""A set of fields in the API server's FieldsV1 trie format."""

_Path = tuple[str, ...]

# The server-set metadata (SERVER_SET_METADATA), plus the object's identity (name and namespace: in the URL, never
# owned) and clusterName (gone from the API; the server strips it): a superset, as no field set holds any of them.
SERVER_OWNED_METADATA: tuple[str, ...] = ("name", "namespace", "clusterName", *SERVER_SET_METADATA)
"""``metadata`` fields no field set holds: the API server strips them (stripmeta.go), or only it sets them."""

_SERVER_OWNED: frozenset[_Path] = frozenset(
    {("f:apiVersion",), ("f:kind",)} | {("f:metadata", f"f:{name}") for name in SERVER_OWNED_METADATA}
)


@attrs.frozen(kw_only=True)
class Comparison:
    """What changed between two versions of an object, as field sets.

    Attributes:
        added: Fields (and list items, maps) present only in the new object.
        modified: Leaf fields present in both whose value changed.
        removed: Fields (and list items, maps) present only in the old object.
    """

    added: FieldSet
    modified: FieldSet
    removed: FieldSet


# ----------------------------------------------------------------------------------------------------
# Encoding: path elements, the FieldsV1 trie, readable paths.


def _go_json(value: object) -> str:
    """Compact JSON as Go's encoding/json writes it (HTML characters escaped, integral floats as ints)."""

    def normal(item: object) -> object:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {str(k): normal(v) for k, v in item.items()}
        if isinstance(item, list):
            return [normal(v) for v in item]
        return item

    text = json.dumps(normal(value), separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(char, escaped)
    return text.replace("\u2029", "\\u2029")


def _item_element(item: object, list_type: ListType) -> str:
    if list_type.kind == "map" and isinstance(item, dict):
        return "k:" + _go_json({key: item[key] for key in sorted(list_type.keys) if key in item})
    return "v:" + _go_json(item)


_ELEMENT_ORDER = {"f": 0, "k": 1, "v": 2, "i": 3}


def _element_order(element: str) -> tuple[int, str]:
    return _ELEMENT_ORDER.get(element[:1], 4), element[2:]


def _to_paths(fields: Mapping[str, Any] | None) -> set[_Path]:
    out: set[_Path] = set()

    def walk(node: Mapping[str, Any], prefix: _Path) -> None:
        for element, child in node.items():
            if element == ".":
                continue
            path = (*prefix, element)
            if not isinstance(child, Mapping) or not child or "." in child:
                out.add(path)
            if isinstance(child, Mapping):
                walk(child, path)

    if fields:
        walk(fields, ())
    return out


def _from_paths(paths: Iterable[_Path]) -> FieldSet:
    members = set(paths)
    tree: dict[str, Any] = {}
    for path in members:
        node = tree
        for element in path:
            node = node.setdefault(element, {})

    def render(node: dict[str, Any], prefix: _Path) -> FieldSet:
        out: FieldSet = {}
        if node and prefix in members:
            out["."] = {}
        for element in sorted(node, key=_element_order):
            out[element] = render(node[element], (*prefix, element))
        return out

    return render(tree, ())


def _readable(path: _Path) -> str:
    parts: list[str] = []
    for element in path:
        kind, text = element[:2], element[2:]
        if kind == "f:":
            parts.append("." + text)
        elif kind == "k:":
            try:
                key = json.loads(text)
            except ValueError:
                parts.append(f"[{text}]")
                continue
            parts.append("[" + ",".join(f"{name}={_go_json(value)}" for name, value in key.items()) + "]")
        elif kind == "v:":
            parts.append(f"[={text}]")
        else:
            parts.append(f"[{text}]")
    return "".join(parts)


def _path_order(path: _Path) -> list[tuple[int, str]]:
    return [_element_order(element) for element in path]


def _strip_server_owned(paths: set[_Path]) -> set[_Path]:
    return {path for path in paths if path[:1] not in _SERVER_OWNED and path[:2] not in _SERVER_OWNED}


# ----------------------------------------------------------------------------------------------------
# Schema lookups, cached per call.


class _Schema:
    """List and map types for one kind, memoised for the duration of one call."""

    def __init__(self, group_kind: GroupKind, overrides: SchemaOverrides | None) -> None:
        self.group_kind = group_kind
        if overrides is None and schema.is_builtin_group(group_kind.group):
            overrides = schema.builtin_lists(group_kind)
        self.overrides = overrides
        self._lists: dict[FieldPath, ListType] = {}
        self._maps: dict[FieldPath, bool] = {}

    def list_type(self, names: FieldPath) -> ListType:
        found = self._lists.get(names)
        if found is None:
            found = self._lists[names] = schema.list_type(self.group_kind, names, self.overrides)
        return found

    def atomic_map(self, names: FieldPath) -> bool:
        found = self._maps.get(names)
        if found is None:
            found = self._maps[names] = schema.is_atomic_map(self.group_kind, names, self.overrides)
        return found


# ----------------------------------------------------------------------------------------------------
# Field sets of objects and of changes.


def _collect_fields(obj: Mapping[str, Any], names: FieldPath, prefix: _Path, sch: _Schema, out: set[_Path]) -> None:
    for name, child in obj.items():
        _collect(child, (*names, str(name)), (*prefix, f"f:{name}"), sch, out)


def _collect(value: object, names: FieldPath, path: _Path, sch: _Schema, out: set[_Path]) -> None:
    if isinstance(value, dict):
        if not value or sch.atomic_map(names):
            out.add(path)
        else:
            _collect_fields(value, names, path, sch, out)
    elif isinstance(value, list):
        list_type = sch.list_type(names)
        if list_type.kind == "atomic":
            out.add(path)
            return
        for item in value:
            item_path = (*path, _item_element(item, list_type))
            out.add(item_path)
            if list_type.kind == "map" and isinstance(item, dict):
                _collect_fields(item, names, item_path, sch, out)
    else:
        out.add(path)


def _added(filled: object, given: object, names: FieldPath, path: _Path, *, sch: _Schema, out: set[_Path]) -> None:
    """The paths of fields ``filled`` has and ``given`` (the same object before list keys were filled) lacks."""
    if isinstance(filled, dict) and isinstance(given, dict):
        for name, child in filled.items():
            where = (*path, f"f:{name}")
            if name not in given:
                out.add(where)
            else:
                _added(child, given[name], (*names, str(name)), where, sch=sch, out=out)
    elif isinstance(filled, list) and isinstance(given, list) and len(filled) == len(given):
        list_type = sch.list_type(names)
        if list_type.kind == "map":
            for item, before in zip(filled, given, strict=True):
                _added(item, before, names, (*path, _item_element(item, list_type)), sch=sch, out=out)


def applied_field_set(
    filled: Manifest, given: Manifest, group_kind: GroupKind, *, overrides: SchemaOverrides | None = None
) -> FieldSet:
    """What an apply of ``given`` owns, where ``filled`` is ``given`` with the list keys the server defaults filled.

    The server defaults a missing key (a port's ``protocol``) to name the item, but records only the fields the
    applier sent: the item's key says ``protocol: TCP`` while ``f:protocol`` is not among the applier's fields.
    """
    sch = _Schema(group_kind, overrides)
    added: set[_Path] = set()
    _added(filled, given, (), (), sch=sch, out=added)
    paths = _field_paths(filled, sch)
    if added:
        paths = {path for path in paths if not any(path[: len(extra)] == extra for extra in added)}
    return _from_paths(paths)


def _field_paths(obj: Mapping[str, Any], sch: _Schema, *, strip: bool = True) -> set[_Path]:
    out: set[_Path] = set()
    _collect_fields(obj, (), (), sch, out)
    return _strip_server_owned(out) if strip else out


def field_set(obj: Manifest, group_kind: GroupKind, *, overrides: SchemaOverrides | None = None) -> FieldSet:
    """The fields ``obj`` sets, as server-side apply records them for the manager applying it.

    Leaves are scalars (``null`` included), atomic lists, atomic maps and empty maps; every item of a keyed
    list or set is a member too. Server-owned identity fields are left out.

    Args:
        obj: The object (an apply configuration).
        group_kind: Its kind, which decides how its lists merge.
        overrides: List types declared by a custom resource's schema.
    """
    return _from_paths(_field_paths(obj, _Schema(group_kind, overrides)))


def _everything(value: object, names: FieldPath, path: _Path, sch: _Schema, out: set[_Path]) -> None:
    """Every node of ``value`` (itself included), as a comparison sees an added or removed subtree."""
    out.add(path)
    if isinstance(value, dict) and not sch.atomic_map(names):
        for name, child in value.items():
            _everything(child, (*names, str(name)), (*path, f"f:{name}"), sch, out)
    elif isinstance(value, list):
        list_type = sch.list_type(names)
        if list_type.kind == "atomic":
            return
        for item in value:
            item_path = (*path, _item_element(item, list_type))
            out.add(item_path)
            if list_type.kind == "map" and isinstance(item, dict):
                for name, child in item.items():
                    _everything(child, (*names, str(name)), (*item_path, f"f:{name}"), sch, out)


def _index(items: list[Any], list_type: ListType) -> dict[str, Any]:
    """Items of an associative list by path element; the first of duplicates wins."""
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(_item_element(item, list_type), item)
    return out


class _Comparer:
    def __init__(self, sch: _Schema) -> None:
        self.sch = sch
        self.added: set[_Path] = set()
        self.modified: set[_Path] = set()
        self.removed: set[_Path] = set()

    def fields(self, old: Mapping[str, Any], new: Mapping[str, Any], names: FieldPath, path: _Path) -> None:
        # A stored null is an absent field (the Go types print some empty fields as null): neither side owns it.
        for name, child in new.items():
            child_names, child_path = (*names, str(name)), (*path, f"f:{name}")
            if name in old and old[name] is not None:
                self.value(old[name], child, child_names, child_path)
            elif child is not None:
                _everything(child, child_names, child_path, self.sch, self.added)
        for name, child in old.items():
            if child is not None and (name not in new or new[name] is None):
                _everything(child, (*names, str(name)), (*path, f"f:{name}"), self.sch, self.removed)

    def value(self, old: object, new: object, names: FieldPath, path: _Path) -> None:
        if isinstance(old, dict) and isinstance(new, dict) and not self.sch.atomic_map(names):
            self.fields(old, new, names, path)
            return
        if isinstance(old, list) and isinstance(new, list):
            list_type = self.sch.list_type(names)
            if list_type.kind != "atomic":
                self.items(old, new, list_type, names, path)
                return
        if json_equal(old, new):
            return
        self.modified.add(path)
        for side, out in ((old, self.removed), (new, self.added)):
            if isinstance(side, dict | list):
                found: set[_Path] = set()
                _everything(side, names, path, self.sch, found)
                out.update(found - {path})

    def items(self, old: list[Any], new: list[Any], list_type: ListType, names: FieldPath, path: _Path) -> None:
        old_items, new_items = _index(old, list_type), _index(new, list_type)
        for element, item in new_items.items():
            item_path = (*path, element)
            if element not in old_items:
                self.item_subtree(item, list_type, names, item_path, self.added)
            elif list_type.kind == "map":
                previous = old_items[element]
                if isinstance(previous, dict) and isinstance(item, dict):
                    self.fields(previous, item, names, item_path)
                elif not json_equal(previous, item):
                    self.modified.add(item_path)
        for element, item in old_items.items():
            if element not in new_items:
                self.item_subtree(item, list_type, names, (*path, element), self.removed)

    def item_subtree(self, item: object, list_type: ListType, names: FieldPath, path: _Path, out: set[_Path]) -> None:
        out.add(path)
        if list_type.kind == "map" and isinstance(item, dict):
            for name, child in item.items():
                _everything(child, (*names, str(name)), (*path, f"f:{name}"), self.sch, out)


def _compare(old: Mapping[str, Any], new: Mapping[str, Any], sch: _Schema) -> tuple[set[_Path], set[_Path], set[_Path]]:
    comparer = _Comparer(sch)
    comparer.fields(old, new, (), ())
    return (
        _strip_server_owned(comparer.added),
        _strip_server_owned(comparer.modified),
        _strip_server_owned(comparer.removed),
    )


def _before_create(old: Manifest | None, new: Manifest) -> Manifest:
    """``old``, or for a create what the server compares against: the kind's empty Go object.

    Its ``metadata`` (and a built-in kind's ``spec``) exist already, so creating an object does not record
    them as added maps of their own, as a real server's managedFields show.
    """
    if old is not None:
        return old
    group, _ = split_api_version(str(new.get("apiVersion") or ""))
    empty: Manifest = {"metadata": {}}
    if "spec" in new and schema.is_builtin_group(group):
        empty["spec"] = {}
    return empty


def compare(
    old: Manifest | None, new: Manifest, group_kind: GroupKind, *, overrides: SchemaOverrides | None = None
) -> Comparison:
    """Compare two versions of an object field by field, as the API server does on every write.

    ``None`` for ``old`` means the object is being created (everything in ``new`` is added).
    """
    added, modified, removed = _compare(_before_create(old, new), new, _Schema(group_kind, overrides))
    return Comparison(added=_from_paths(added), modified=_from_paths(modified), removed=_from_paths(removed))


def changed_fields(
    old: Manifest | None, new: Manifest, group_kind: GroupKind, *, overrides: SchemaOverrides | None = None
) -> FieldSet:
    """Fields added in ``new`` or whose value changed: what an Update (create, put, patch) takes ownership of.

    Added maps and list items are members themselves (``"."``), as the server records them.
    """
    added, modified, _ = _compare(_before_create(old, new), new, _Schema(group_kind, overrides))
    return _from_paths(added | modified)


def removed_fields(
    old: Manifest | None, new: Manifest, group_kind: GroupKind, *, overrides: SchemaOverrides | None = None
) -> FieldSet:
    """Fields present in ``old`` and gone from ``new``: every manager loses ownership of them."""
    _, _, removed = _compare(_before_create(old, new), new, _Schema(group_kind, overrides))
    return _from_paths(removed)


# ----------------------------------------------------------------------------------------------------
# Set algebra.


def union(a: FieldSet, b: FieldSet) -> FieldSet:
    """Fields in ``a`` or in ``b``."""
    return _from_paths(_to_paths(a) | _to_paths(b))


def difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """Fields in ``a`` and not in ``b``."""
    return _from_paths(_to_paths(a) - _to_paths(b))


def intersection(a: FieldSet, b: FieldSet) -> FieldSet:
    """Fields in both ``a`` and ``b``."""
    return _from_paths(_to_paths(a) & _to_paths(b))


def is_empty(fields: FieldSet) -> bool:
    """Whether the set holds no field."""
    return not _to_paths(fields)


def paths(fields: FieldSet) -> list[str]:
    """The set's fields as readable paths, sorted.

    For example ``.spec.replicas`` or ``.spec.ports[port=80,protocol="TCP"].targetPort``.
    """
    return [_readable(path) for path in sorted(_to_paths(fields), key=_path_order)]


# ----------------------------------------------------------------------------------------------------
# managedFields.


def _entries(obj: Manifest | None) -> list[dict[str, Any]]:
    metadata = (obj or {}).get("metadata") or {}
    entries = metadata.get("managedFields") or []
    return [entry for entry in entries if isinstance(entry, dict)]


def owned_fields(obj: Manifest | None, manager: str, operation: str | None = "Apply") -> FieldSet:
    """What ``manager`` owns in ``obj`` according to its ``managedFields``.

    Args:
        obj: A live object.
        manager: The field manager (``reconcile``, ``kubectl-edit``).
        operation: ``Apply`` or ``Update``; ``None`` merges both.
    """
    owned: set[_Path] = set()
    for entry in _entries(obj):
        if entry.get("manager") == manager and operation in (None, entry.get("operation")):
            owned |= _to_paths(entry.get("fieldsV1"))
    return _from_paths(owned)


def owners(obj: Manifest | None) -> dict[str, FieldSet]:
    """Every manager's fields in ``obj``, entries of the same manager merged, by manager name."""
    found: dict[str, set[_Path]] = {}
    for entry in _entries(obj):
        found.setdefault(str(entry.get("manager") or ""), set()).update(_to_paths(entry.get("fieldsV1")))
    return {manager: _from_paths(owned) for manager, owned in found.items()}


def as_stored(owned: FieldSet, group_kind: GroupKind) -> FieldSet:
    """``owned`` with what write-only fields own moved to where the server stores their values.

    A core Secret's ``stringData`` is never stored: the server writes it into ``data``, but records an apply's
    ownership under ``f:stringData``. Read as stored, that manager owns the same keys of ``data``, so a live
    change to them (another manager's write of ``data`` or ``stringData``) is a change to its fields.
    """
    if group_kind != SECRET or "f:stringData" not in owned:
        return owned
    rest = {name: child for name, child in owned.items() if name != "f:stringData"}
    return union(rest, {"f:data": owned["f:stringData"]})


# ----------------------------------------------------------------------------------------------------
# Apply.


def _merge_fields(live: Mapping[str, Any], config: Mapping[str, Any], names: FieldPath, sch: _Schema) -> dict[str, Any]:
    out = dict(live)
    for name, value in config.items():
        if value is None:
            # null asks for the field to go; a live null (creationTimestamp of templates) stays as it is.
            if name in out:
                out[name] = None
        elif name in live:
            out[name] = _merge(live[name], value, (*names, str(name)), sch)
        else:
            out[name] = without_nulls(value)
    return out


def _merge(live: object, config: object, names: FieldPath, sch: _Schema) -> object:
    if isinstance(live, dict) and isinstance(config, dict) and not sch.atomic_map(names):
        return _merge_fields(live, config, names, sch)
    if isinstance(live, list) and isinstance(config, list):
        list_type = sch.list_type(names)
        if list_type.kind != "atomic":
            return _merge_items(live, config, list_type, names, sch)
    return without_nulls(config)


def _merge_items(live: list[Any], config: list[Any], list_type: ListType, names: FieldPath, sch: _Schema) -> list[Any]:
    wanted: dict[str, Any] = {}
    for item in config:
        element = _item_element(item, list_type)
        if element in wanted and isinstance(item, dict) and isinstance(wanted[element], dict):
            wanted[element] = _merge_fields(wanted[element], item, names, sch)
        else:
            wanted[element] = item
    out: list[Any] = []
    seen: set[str] = set()
    for item in live:
        element = _item_element(item, list_type)
        if element in wanted and element not in seen:
            if list_type.kind == "map" and isinstance(item, dict) and isinstance(wanted[element], dict):
                out.append(_merge_fields(item, wanted[element], names, sch))
            else:
                out.append(without_nulls(wanted[element]))
        else:
            out.append(deep_copy(item))
        seen.add(element)
    out.extend(without_nulls(item) for element, item in wanted.items() if element not in seen)
    return out


class _Pruner:
    """Removes what the applier owned before and dropped, unless someone else still owns it.

    A field goes when the applier owned it (or, for a field holding a map, anything under it) and no manager
    owns it now (or anything under it). A list item goes when the applier owned the item itself and no manager
    owns the item itself, whatever others own inside it. Maps and lists emptied by the removal go too.
    """

    def __init__(self, last: set[_Path], managed: set[_Path], sch: _Schema) -> None:
        self.sch = sch
        self.last = last
        self.managed = managed
        self.last_above = {path[:i] for path in last for i in range(1, len(path))}
        self.managed_above = {path[:i] for path in managed for i in range(1, len(path))}

    def fields(
        self, obj: Mapping[str, Any], names: FieldPath, path: _Path, keys: tuple[str, ...] = ()
    ) -> tuple[dict[str, Any], bool]:
        out: dict[str, Any] = {}
        changed = False
        for name, value in obj.items():
            child_path = (*path, f"f:{name}")
            owned_before = child_path in self.last or child_path in self.last_above
            if not owned_before or name in keys:  # a kept item keeps its key
                out[name] = value
                continue
            owned_now = child_path in self.managed or child_path in self.managed_above
            if not owned_now:
                changed = True
                continue
            if child_path in self.last_above:
                pruned, child_changed = self.value(value, (*names, str(name)), child_path)
                if child_changed:
                    changed = True
                    if isinstance(pruned, dict | list) and not pruned:
                        continue
                out[name] = pruned
            else:
                out[name] = value
        return out, changed

    def value(self, value: object, names: FieldPath, path: _Path) -> tuple[object, bool]:
        if isinstance(value, dict) and not self.sch.atomic_map(names):
            return self.fields(value, names, path)
        if not isinstance(value, list):
            return value, False
        list_type = self.sch.list_type(names)
        if list_type.kind == "atomic":
            return value, False
        out: list[Any] = []
        changed = False
        for item in value:
            item_path = (*path, _item_element(item, list_type))
            if item_path in self.last and item_path not in self.managed:
                changed = True
                continue
            if list_type.kind == "map" and isinstance(item, dict) and item_path in self.last_above:
                pruned, item_changed = self.fields(item, names, item_path, list_type.keys)
                changed = changed or item_changed
                out.append(pruned)
            else:
                out.append(item)
        return out, changed


def merge_apply(
    live: Manifest | None,
    config: Manifest,
    *,
    previously_owned: FieldSet,
    owned_by_others: FieldSet,
    group_kind: GroupKind,
    overrides: SchemaOverrides | None = None,
) -> Manifest:
    """What the API server stores (before defaulting) when ``config`` is applied over ``live``.

    Maps merge recursively; keyed lists and sets merge by key (live items keep their place, applied items
    merge into their match, new ones are appended); atomic lists and scalars are replaced; a ``null`` in
    ``config`` empties the field.

    Then what the applier owned before and no longer applies goes, unless another manager still owns it: a
    field goes when the applier owned it (or, for a map, anything under it) and nobody owns it (or anything
    under it) now; a list item goes when the applier owned the item and nobody owns the item itself, whatever
    others own inside it (the API server's rule). Maps and lists emptied that way are dropped.

    Args:
        live: The live object, or ``None`` when it does not exist yet.
        config: The applied configuration.
        previously_owned: What the applying manager owned through Apply before this apply.
        owned_by_others: Everything every other manager (and the applier's own Update entries) owns.
        group_kind: The object's kind, which decides how its lists merge.
        overrides: List types declared by a custom resource's schema.
    """
    sch = _Schema(group_kind, overrides)
    return _merge_apply(live, config, _to_paths(previously_owned), _to_paths(owned_by_others), sch, share_live=False)


def _merge_apply(
    live: Manifest | None, config: Manifest, last: set[_Path], others: set[_Path], sch: _Schema, *, share_live: bool
) -> Manifest:
    # Merging copies only what it changes; copying live first keeps the result apart from the caller's dict.
    merged = _merge_fields((live if share_live else deep_copy(live)) if live else {}, config, (), sch)
    if not last:
        return merged
    # The applied identity fields (metadata.name) count as owned here, so pruning never empties metadata.
    managed = _field_paths(config, sch, strip=False) | others
    if last <= managed:
        return merged  # everything applied before is still owned by someone: nothing to prune
    pruned, _ = _Pruner(last, managed, sch).fields(merged, (), ())
    return pruned


def find_conflicts(
    live: Manifest | None,
    config: Manifest,
    owned_by_others_per_manager: Mapping[str, FieldSet],
    group_kind: GroupKind,
    *,
    overrides: SchemaOverrides | None = None,
) -> list[tuple[str, str]]:
    """Fields ``config`` would change that another manager owns.

    Returns ``[(".spec.replicas", "kubectl-edit"), ...]``, sorted by manager, then by path. A field applied
    with the value it already has is shared with its owner, not a conflict.
    """
    sch = _Schema(group_kind, overrides)
    base = live or {}
    added, modified, _ = _compare(base, _merge_fields(base, config, (), sch), sch)
    changed = added | modified
    out: list[tuple[str, str]] = []
    for manager in sorted(owned_by_others_per_manager):
        clash = _to_paths(owned_by_others_per_manager[manager]) & changed
        out.extend((_readable(path), manager) for path in sorted(clash, key=_path_order))
    return out


def _group_kind(obj: Manifest) -> GroupKind:
    group, _ = split_api_version(str(obj.get("apiVersion") or ""))
    return GroupKind(group, str(obj.get("kind") or ""))


def apply_configuration(config: Manifest) -> Manifest:
    """``config`` as the API server takes it for an apply.

    A copy without server-owned metadata, without ``status`` for kinds with a status subresource, without a
    namespace for cluster-scoped built-in kinds, and with defaulted list keys filled
    (:func:`reconcile.apiserver.fill_list_keys`).
    """
    out = schema.fill_list_keys(config)
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        for name in SERVER_SET_METADATA:  # a copy of a live object carries them: the server ignores them
            metadata.pop(name, None)
    info = APISchema.for_version().kinds.get(_group_kind(out))
    if info is not None:
        if info.status_subresource:
            out.pop("status", None)
        if not info.namespaced and isinstance(metadata, dict):
            metadata.pop("namespace", None)
    return out


def predict_apply(
    live: Manifest | None,
    config: Manifest,
    manager: str = "reconcile",
    *,
    overrides: SchemaOverrides | None = None,
    share_live: bool = False,
) -> Manifest:
    """What applying ``config`` as ``manager`` would store, before the server's defaulting.

    Reads what ``manager`` applied before and what everyone else owns from ``live``'s ``managedFields``
    (nothing when it has none); when ``manager`` has no Apply entry there, the fields of kubectl's
    ``last-applied-configuration`` annotation count as applied before (a client-side apply). Prepares
    ``config`` with :func:`apply_configuration` and merges with :func:`merge_apply`; a Secret's
    ``stringData`` is folded into ``data`` and empty metadata maps are left out
    (:func:`reconcile.apiserver.omit_empty_metadata`). ``live``'s server-owned metadata (``resourceVersion``,
    ``managedFields``...) is kept as is, so the result equals ``live`` exactly when applying would change
    nothing. With ``share_live``, the result shares the parts the apply leaves as they are with ``live``
    instead of copying them: for a caller that owns ``live`` and modifies neither.
    """
    prepared = apply_configuration(config)
    group_kind = _group_kind(prepared)
    sch = _Schema(group_kind, overrides)
    previously_owned: set[_Path] = set()
    others: list[set[_Path]] = []
    applied_before = False
    for entry in _entries(live):
        owned = _to_paths(entry.get("fieldsV1"))
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            applied_before = True
            previously_owned |= owned
        else:
            others.append(owned)
    last_applied_path = ("f:metadata", "f:annotations", f"f:{LAST_APPLIED}")
    annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
    text = annotations.get(LAST_APPLIED) if isinstance(annotations, dict) else None
    if not applied_before and isinstance(text, str):
        # A client-side `kubectl apply` records what it applied in this annotation instead: what it names was
        # applied before, so a field dropped from it since is pruned (kubectl's three-way diff).
        try:
            last_applied = json.loads(text)
        except ValueError:
            last_applied = None  # unreadable: nothing is known to have been applied
        if isinstance(last_applied, dict):
            previously_owned = _field_paths(apply_configuration(last_applied), sch)
            # The manager that wrote the annotation is that earlier apply, not another actor keeping its fields.
            others = [owned for owned in others if last_applied_path not in owned]
            # kubectl rewrites the annotation itself on every apply, so it is never pruned.
            others.append({last_applied_path})
    merged = _merge_apply(live, prepared, previously_owned, set[_Path]().union(*others), sch, share_live=share_live)
    return schema.omit_empty_metadata(schema.fold_string_data(merged))


def list_key_errors(
    obj: Manifest, group_kind: GroupKind, *, overrides: SchemaOverrides | None = None
) -> list[tuple[str, str]]:
    """Why a server would refuse to apply ``obj``: keyed-list items missing a key field, or duplicated.

    Returns:
        ``(list path, message)`` pairs, e.g. ``(".spec.ports", 'element 0: associative list with keys has an
        element that omits key field "protocol"')``; empty when the object can be applied.
    """
    sch = _Schema(group_kind, overrides)
    errors: list[tuple[str, str]] = []

    def walk(value: object, names: FieldPath, path: _Path) -> None:
        if isinstance(value, dict):
            if not sch.atomic_map(names):
                for name, child in value.items():
                    walk(child, (*names, str(name)), (*path, f"f:{name}"))
            return
        if not isinstance(value, list):
            return
        list_type = sch.list_type(names)
        if list_type.kind == "atomic":
            return
        seen: set[str] = set()
        for position, item in enumerate(value):
            if list_type.kind == "map" and isinstance(item, dict):
                missing = [key for key in list_type.keys if item.get(key) is None]
                if missing:
                    message = "associative list with keys has an element that omits key field"
                    errors.append((_readable(path), f'element {position}: {message} "{missing[0]}"'))
                    continue
            element = _item_element(item, list_type)
            if element in seen:
                errors.append((_readable(path), f"duplicate entries for key {_readable((element,))}"))
            seen.add(element)
            if list_type.kind == "map" and isinstance(item, dict):
                for name, child in item.items():
                    walk(child, (*names, str(name)), (*path, element, f"f:{name}"))

    for name, child in obj.items():
        walk(child, (str(name),), (f"f:{name}",))
    return errors


def migrate_client_side_apply(obj: Manifest, *, from_manager: str, to_manager: str) -> list[dict[str, Any]] | None:
    """``obj``'s ``managedFields`` with ``from_manager``'s Update ownership moved to ``to_manager``'s Apply entry.

    How an object written by ``kubectl apply`` (manager ``kubectl-client-side-apply``, operation Update) is taken
    over by server-side apply, as kubectl's own upgrade and Argo CD's ``ClientSideApplyMigration`` do: the fields the
    client-side manager owned become the server-side manager's, so a field later removed from the applied
    configuration is removed from the object instead of staying for ever under its old owner. Entries for a
    subresource (``status``) are left alone. ``None`` when ``from_manager`` owns nothing by Update.
    """
    entries = _entries(obj)
    api_version = str(obj.get("apiVersion") or "")
    moving = [
        e
        for e in entries
        if e.get("manager") == from_manager and e.get("operation") == "Update" and not e.get("subresource")
    ]
    if not moving:
        return None
    moved: set[_Path] = set()
    for entry in moving:
        moved |= _to_paths(entry.get("fieldsV1"))
    kept = [dict(e) for e in entries if not any(e is m for m in moving)]
    for entry in kept:
        if (
            entry.get("manager") == to_manager
            and entry.get("operation") == "Apply"
            and entry.get("apiVersion") == api_version
            and not entry.get("subresource")
        ):
            entry["fieldsV1"] = _from_paths(_to_paths(entry.get("fieldsV1")) | moved)
            return kept
    taken: dict[str, Any] = {
        "manager": to_manager,
        "operation": "Apply",
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": _from_paths(moved),
    }
    if moving[0].get("time"):
        taken["time"] = moving[0]["time"]
    return [*kept, taken]
