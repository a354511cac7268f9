"""How server-side apply merges lists and maps, as an OpenAPI schema declares it.

The API server builds its merge types from each type's OpenAPI schema: ``x-kubernetes-list-type`` (``atomic``,
``set``, ``map`` with ``x-kubernetes-list-map-keys``), ``x-kubernetes-map-type: atomic`` on a struct or map, and,
for lists that declare no list type, ``x-kubernetes-patch-strategy: merge`` read as a list keyed by
``x-kubernetes-patch-merge-key`` (or a set of scalars without one). Everything else is atomic (lists) or
granular (maps). Paths are the field names from the object's root; list items contribute no name
(``("spec", "template", "spec", "containers", "ports")``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs

FieldPath = tuple[str, ...]
"""Field names from an object's root; list items contribute no name."""


@attrs.frozen
class ListType:
    """How server-side apply treats a list (and, as :data:`ATOMIC`, a map).

    Attributes:
        kind: ``atomic`` (replaced whole, owned as one field), ``set`` (scalar members merged by value) or
            ``map`` (items merged by their key fields).
        keys: The key fields of a ``map`` list, in schema order.
    """

    kind: Literal["atomic", "set", "map"]
    keys: tuple[str, ...] = ()

    @classmethod
    def keyed(cls, *keys: str) -> ListType:
        """A list of objects merged by ``keys``."""
        return cls("map", tuple(keys))


ATOMIC = ListType("atomic")
"""Replaced whole on apply; owned as a single field."""

SET = ListType("set")
"""A list of scalars merged by value."""

SchemaOverrides = Mapping[FieldPath, ListType]
"""Per-path list types; :data:`ATOMIC` on a map's path makes that map atomic (``x-kubernetes-map-type``)."""

Resolve = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""Follows a node's ``$ref`` (if any) to the definition it names."""

_DEFS = "#/$defs/"


def _declared(node: Mapping[str, Any]) -> ListType | None:
    declared = node.get("x-kubernetes-list-type")
    if declared == "map":
        return ListType.keyed(*[str(k) for k in node.get("x-kubernetes-list-map-keys") or ()])
    if declared == "set":
        return SET
    if declared == "atomic":
        return ATOMIC
    strategy = str(node.get("x-kubernetes-patch-strategy") or "")
    if "merge" in strategy.split(","):
        key = node.get("x-kubernetes-patch-merge-key")
        return ListType.keyed(str(key)) if key else SET
    return None


def list_types(root: Mapping[str, Any], definitions: Mapping[str, Any] | None = None) -> dict[FieldPath, ListType]:
    """The list and map types declared anywhere under ``root``, by path.

    Args:
        root: A schema node (a CRD version's ``openAPIV3Schema``, or a built-in type's definition).
        definitions: What ``$ref`` pointers (``#/$defs/<name>``) name; references are not followed without it.
            A definition already being walked on the current path is not entered again (recursive types).
    """
    out: dict[FieldPath, ListType] = {}
    defs = definitions or {}

    def walk(node: Mapping[str, Any], path: FieldPath, active: frozenset[str], *, item: bool = False) -> None:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            name = ref[len(_DEFS) :]
            target = defs.get(name)
            if not isinstance(target, Mapping) or name in active:
                return
            walk(target, path, active | {name}, item=item)
            return
        declared = _declared(node)
        if declared is not None and path:
            out[path] = declared
        # A list item shares its list's path: an atomic item struct cannot be told apart from the list there,
        # and the list's own type is what merging needs.
        if node.get("x-kubernetes-map-type") == "atomic" and path and not item:
            out[path] = ATOMIC
        items = node.get("items")
        if isinstance(items, Mapping):
            walk(items, path, active, item=True)
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            for name, child in properties.items():
                if isinstance(child, Mapping):
                    walk(child, (*path, str(name)), active)
        for combined in ("allOf", "anyOf", "oneOf"):
            for child in node.get(combined) or ():
                if isinstance(child, Mapping):
                    walk(child, path, active, item=item)

    walk(root, (), frozenset())
    return out
