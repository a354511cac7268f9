"""Leave out of a server-side prediction what mutating admission webhooks changed (Argo CD's default).

A dry-run apply answers with the object as the server would store it, webhooks' changes included. What the
apply itself decides is exactly what the applying manager owns in the answer's ``metadata.managedFields``; a
webhook owns nothing there. So every other field of the answer takes its live value (or goes when live lacks
it): the webhooks' changes go, while defaults and other managers' fields, which live holds alike, stay. Argo
CD does this unless an object's compare-options say ``IncludeMutationWebhook=true``.

Only fields of the predicted object are put back: a field the apply removed (present live, absent from the
prediction) stays removed, so that dropping a field from the desired state still shows as a change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconcile import apiserver
from reconcile.apiserver import FieldPath, ListType, SchemaOverrides, fields
from reconcile.jsonvalues import deep_copy, json_equal
from reconcile.model import GroupKind, Manifest, split_api_version

_Node = Mapping[str, Any]
"""One node of a FieldsV1 trie (:data:`reconcile.apiserver.fields.FieldSet`)."""

_GONE = object()  # a field that is not there

# Identity and state that field sets never describe: copied from the prediction as they are.
_ROOT_SKIPPED = frozenset({"apiVersion", "kind", "status"})
_METADATA_SKIPPED = frozenset(fields.SERVER_OWNED_METADATA)


def without_webhook_mutations(
    predicted: Manifest,
    live: Manifest | None,
    manager: str = "reconcile",
    *,
    overrides: SchemaOverrides | None = None,
) -> Manifest:
    """``predicted`` with every field ``manager`` does not own put back as it is in ``live``.

    A field of ``predicted`` that ``manager``'s entries of its ``managedFields`` do not own (a mutating
    webhook's annotation, an injected sidecar container, an env var added to our container) takes its value in
    ``live``, or goes when ``live`` lacks it; fields only ``live`` has are not added. Fields ``manager`` owns
    stay as predicted, as do atomic lists and maps owned whole. A keyed list item ``manager`` does not own is
    replaced whole (by ``live``'s item with the same key, or dropped); an item it owns keeps its key and owned
    fields and has the rest put back. ``apiVersion``, ``kind``,
    ``status`` and server-owned metadata (``name``, ``uid``, ``resourceVersion``...) are kept as predicted.

    Args:
        predicted: The dry-run apply's answer, with ``metadata.managedFields`` (not changed).
        live: The live object, or ``None`` when there is none (then every unowned field goes).
        manager: The field manager the dry run applied with.
        overrides: List and map types declared by a custom resource's schema; without them a custom
            resource's map or list that a field set owns whole counts as atomic.

    Returns:
        A copy of ``predicted`` without the webhooks' changes; an unchanged copy when ``predicted`` carries no
        ``managedFields`` (a prediction made locally, which no webhook saw).
    """
    metadata = predicted.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("managedFields"):
        return deep_copy(predicted)
    group, _ = split_api_version(str(predicted.get("apiVersion") or ""))
    group_kind = GroupKind(group, str(predicted.get("kind") or ""))
    owned = fields.as_stored(fields.owners(predicted).get(manager, {}), group_kind)
    reverter = _Reverter(group_kind, overrides)
    return reverter.fields(predicted, live if live is not None else _GONE, owned, (), skip=_ROOT_SKIPPED)


class _Reverter:
    """Walks a predicted object beside its owned-fields trie and the live object."""

    def __init__(self, group_kind: GroupKind, overrides: SchemaOverrides | None) -> None:
        self.group_kind = group_kind
        self.overrides = overrides
        # Without a schema, the field set is the only word on what is atomic: trust a whole-owned map or list.
        self.schema_unknown = overrides is None and not apiserver.is_builtin_group(group_kind.group)

    def value(self, predicted: object, live: object, node: _Node | None, names: FieldPath) -> object:
        """The value to keep for one field: predicted where owned, else live's (``_GONE`` when none)."""
        if node is None:  # nothing at or under this field is owned
            return self.unowned(predicted, live, names)
        whole = not any(element != "." for element in node)
        if isinstance(predicted, dict):
            if whole and self._atomic_map(names):
                return deep_copy(predicted)
            # A granular map owned only as a map (``{}`` applied) owns none of its members.
            return self.fields(predicted, live, node, names)
        if isinstance(predicted, list):
            list_type = apiserver.list_type(self.group_kind, names, self.overrides)
            if whole and (self.schema_unknown or list_type.kind == "atomic"):
                return deep_copy(predicted)
            return self.items(predicted, live, node, names, list_type)
        return deep_copy(predicted)

    def unowned(self, predicted: object, live: object, names: FieldPath) -> object:
        """Live's value of each field ``predicted`` has (none of them ours); fields only live has are not added."""
        if live is _GONE:
            return _GONE
        if isinstance(predicted, dict) and isinstance(live, dict) and not self._atomic_map(names):
            out: dict[str, Any] = {}
            for name, child in predicted.items():
                kept = self.unowned(child, live.get(name, _GONE), (*names, str(name)))
                if kept is not _GONE:
                    out[name] = kept
            return out
        if isinstance(predicted, list) and isinstance(live, list):
            list_type = apiserver.list_type(self.group_kind, names, self.overrides)
            if list_type.kind != "atomic":
                elements = _Elements({}, list_type)
                twins = (elements.twin(item, live) for item in predicted)
                return [deep_copy(twin) for twin in twins if twin is not _GONE]
        return deep_copy(live)

    def _atomic_map(self, names: FieldPath) -> bool:
        return self.schema_unknown or apiserver.is_atomic_map(self.group_kind, names, self.overrides)

    def fields(
        self,
        predicted: Mapping[str, Any],
        live: object,
        node: _Node,
        names: FieldPath,
        *,
        skip: frozenset[str] = frozenset(),
        keep: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """A map's members, each kept or put back; ``skip`` and ``keep`` (an item's key fields) kept as is."""
        live_map: Mapping[str, Any] = live if isinstance(live, dict) else {}
        out: dict[str, Any] = {}
        for name, child in predicted.items():
            if name in skip or name in keep:
                out[name] = deep_copy(child)
                continue
            child_names = (*names, str(name))
            live_child = live_map.get(name, _GONE)
            if not names and name == "metadata" and isinstance(child, dict):
                metadata_node = node.get("f:metadata")
                kept: object = self.fields(child, live_child, metadata_node or {}, child_names, skip=_METADATA_SKIPPED)
            else:
                kept = self.value(child, live_child, node.get(f"f:{name}"), child_names)
            if kept is _GONE or _emptied(child, kept, live_child):
                continue
            out[name] = kept
        return out

    def items(
        self, predicted: list[Any], live: object, node: _Node, names: FieldPath, list_type: ListType
    ) -> list[Any]:
        """A list's items: owned ones kept (their unowned fields put back), the others replaced by live's."""
        live_items: list[Any] = live if isinstance(live, list) else []
        elements = _Elements(node, list_type)
        out: list[Any] = []
        for index, item in enumerate(predicted):
            child = elements.find(item, index)
            twin = elements.twin(item, live_items)
            if child is None:  # nobody owns the item: live's, or none
                if twin is not _GONE:
                    out.append(deep_copy(twin))
            elif isinstance(item, dict) and any(element != "." for element in child):
                out.append(self.fields(item, twin, child, names, keep=elements.key_names(item)))
            else:
                out.append(deep_copy(item))
        return out


class _Elements:
    """The items of one list node of a field set (``k:``, ``v:``, ``i:`` elements), parsed once."""

    def __init__(self, node: _Node, list_type: ListType) -> None:
        self.keyed: list[tuple[dict[str, Any], _Node]] = []
        self.members: list[tuple[object, _Node]] = []
        self.indexed: dict[int, _Node] = {}
        for element, child in node.items():
            kind, text = element[:2], element[2:]
            if kind == "i:" and text.isdigit():
                self.indexed[int(text)] = child
                continue
            try:
                parsed = json.loads(text)
            except ValueError:
                continue  # not an item element ("." or a field): owns no item
            if kind == "k:" and isinstance(parsed, dict):
                self.keyed.append((parsed, child))
            elif kind == "v:":
                self.members.append((parsed, child))
        # A custom resource's keyed list the schema does not know: its elements name the key fields.
        self.keys: tuple[str, ...] | None = list_type.keys if list_type.kind == "map" else None
        if self.keys is None and self.keyed:
            self.keys = tuple(self.keyed[0][0])

    def key_names(self, item: Mapping[str, Any]) -> tuple[str, ...]:
        """The key fields ``item`` has (kept as predicted: they are the item's identity)."""
        return tuple(name for name in self.keys or () if name in item)

    def identity(self, item: object) -> object:
        """What identifies ``item`` among its list's items: its key fields, or itself in a set."""
        if self.keys is not None and isinstance(item, dict):
            return {name: item[name] for name in self.keys if name in item}
        return item

    def find(self, item: object, index: int) -> _Node | None:
        """The field-set node of ``item``, or ``None`` when nobody owns the item nor anything in it."""
        if self.keys is not None and isinstance(item, dict):
            identity = self.identity(item)
            for key, child in self.keyed:
                if json_equal(key, identity):
                    return child
        for member, child in self.members:
            if json_equal(member, item):
                return child
        return self.indexed.get(index)

    def twin(self, item: object, live_items: list[Any]) -> object:
        """The live item with ``item``'s identity, or ``_GONE``."""
        identity = self.identity(item)
        for candidate in live_items:
            if json_equal(self.identity(candidate), identity):
                return candidate
        return _GONE


def _emptied(predicted: object, kept: object, live: object) -> bool:
    """Whether putting fields back emptied a map or list that live does not hold empty (it then goes)."""
    return isinstance(kept, dict | list) and not kept and bool(predicted) and not json_equal(kept, live)
