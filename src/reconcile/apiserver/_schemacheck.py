"""An object checked against its schema as the API server checks it: undeclared fields and wrong types.

A server-side apply turns the object into a typed value first and refuses it on the first problem, naming the
path the way structured-merge-diff does (``.spec.template.spec.containers[name="web"].ports[containerPort=80,
protocol="TCP"].containerPort``); other writes drop undeclared fields (the server's default field validation
only warns) and refuse values of the wrong type. The same walk serves built-in kinds (whose definitions refer to
each other with ``$ref``) and custom resources (a CRD version's ``openAPIV3Schema``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from reconcile.apiserver._lists import FieldPath, ListType, SchemaOverrides

Resolve = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""Follows a schema node's ``$ref`` to the definition it names (the node itself when it has none)."""

# A custom resource's root always accepts these, whatever its schema declares.
_ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


@attrs.frozen
class SchemaProblem:
    """One problem of an object against its schema.

    Attributes:
        path: Where, as structured-merge-diff names it (``.spec.replicas``).
        message: What, as the server words it (``field not declared in schema``).
        names: The field names from the root (list items contribute none), for messages of other writes.
        undeclared: Whether the field is unknown (rather than of the wrong type).
    """

    path: str
    message: str
    names: FieldPath
    undeclared: bool


def _identity(node: Mapping[str, Any]) -> Mapping[str, Any]:
    return node


def _types(node: Mapping[str, Any]) -> frozenset[str]:
    declared = node.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(str(t) for t in declared if t != "null")
    return frozenset()


def _alternatives(node: Mapping[str, Any], resolve: Resolve) -> frozenset[str]:
    """The scalar types a ``oneOf``/``anyOf`` node (IntOrString, Quantity) or an int-or-string node accepts."""
    if node.get("x-kubernetes-int-or-string"):
        return frozenset({"integer", "string"})
    found: set[str] = set()
    for combined in ("oneOf", "anyOf"):
        for child in node.get(combined) or ():
            if isinstance(child, Mapping):
                found |= _types(resolve(child))
    return frozenset(found)


def _kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "numeric"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "unknown"


def _go_value(value: object) -> str:
    """How structured-merge-diff prints an unexpected value (``&value.valueUnstructured{Value:1}``)."""
    if isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, str):
        shown = f'"{value}"'
    elif isinstance(value, dict | list):
        return _kind_of(value)
    else:
        shown = json.dumps(value)
    return f"&value.valueUnstructured{{Value:{shown}}}"


# Which JSON schema types accept a value of each kind structured-merge-diff tells apart.
_ACCEPTING = {
    "boolean": {"boolean"},
    "numeric": {"integer", "number"},
    "string": {"string"},
    "map": {"object"},
    "list": {"array"},
}
# What the server expects, by the one schema type a field accepts.
_EXPECTED = {"boolean": "boolean", "string": "string", "object": "map", "array": "list"}


def _mismatch(accepted: frozenset[str], value: object) -> str | None:
    """The server's complaint when ``value`` is none of the ``accepted`` JSON schema types, else ``None``."""
    got = _kind_of(value)
    if accepted & _ACCEPTING.get(got, set()):
        return None
    if accepted <= {"integer", "number"}:
        return f"expected numeric (int or float), got {got}"
    if len(accepted) == 1 and next(iter(accepted)) in _EXPECTED:
        return f"expected {_EXPECTED[next(iter(accepted))]}, got {_go_value(value)}"
    return f"expected {' or '.join(sorted(accepted))}, got {got}"


def _element(item: object, list_type: ListType | None, index: int) -> str:
    if list_type is not None and list_type.kind == "map" and isinstance(item, dict):
        keys = ",".join(f"{key}={json.dumps(item[key])}" for key in list_type.keys if key in item)
        return f"[{keys}]"
    if list_type is not None and list_type.kind == "set":
        return f"[={json.dumps(item)}]"
    return f"[{index}]"


class _Walk:
    def __init__(self, resolve: Resolve, lists: SchemaOverrides | None, *, custom: bool) -> None:
        self.resolve = resolve
        self.lists = lists or {}
        self.custom = custom

    def value(self, value: object, node: Mapping[str, Any], path: str, names: FieldPath) -> Iterator[SchemaProblem]:
        if value is None:
            return
        node = self.resolve(node)
        accepted = _types(node) or _alternatives(node, self.resolve)
        if not accepted:
            return  # free-form (RawExtension, JSON)
        problem = _mismatch(accepted, value)
        if problem is not None:
            yield SchemaProblem(path or ".", problem, names, undeclared=False)
            return
        if isinstance(value, dict):
            yield from self.fields(value, node, path, names)
        elif isinstance(value, list):
            items = node.get("items")
            if isinstance(items, Mapping):
                list_type = self.lists.get(names)
                for index, item in enumerate(value):
                    yield from self.value(item, items, path + _element(item, list_type, index), names)

    def fields(
        self, value: Mapping[str, Any], node: Mapping[str, Any], path: str, names: FieldPath
    ) -> Iterator[SchemaProblem]:
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        open_ended = bool(node.get("x-kubernetes-preserve-unknown-fields"))
        if not isinstance(properties, Mapping) and not isinstance(extra, Mapping):
            return  # an object of any shape
        declared: Mapping[str, Any] = properties if isinstance(properties, Mapping) else {}
        for name in sorted(value):
            child = declared.get(name)
            where = f"{path}.{name}"
            if isinstance(child, Mapping):
                yield from self.value(value[name], child, where, (*names, name))
            elif isinstance(extra, Mapping):
                yield from self.value(value[name], extra, where, (*names, name))
            elif not open_ended and not (self.custom and not names and name in _ROOT_FIELDS):
                yield SchemaProblem(where, "field not declared in schema", (*names, name), undeclared=True)


_NUMBERS = (int, float)
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": _NUMBERS,
    "number": _NUMBERS,
    "string": (str,),
    "object": (dict,),
    "array": (list,),
}


class _Node:
    """A schema node compiled for the quick check: the Python types it accepts and its children."""

    __slots__ = ("accepts", "extra", "items", "open", "properties")

    def __init__(self) -> None:
        self.accepts: frozenset[type] | None = None  # None: any value (free-form)
        self.properties: dict[str, _Node] | None = None
        self.extra: _Node | None = None
        self.items: _Node | None = None
        self.open = False


class Checker:
    """Answers quickly whether an object is clean against its schema (every field declared, every type right).

    Most objects are: :meth:`clean` walks them once with schema nodes compiled on first use, building no paths;
    only an object it finds wanting needs :func:`schema_problems` for the server's words. One checker per
    schema family (a release's definitions, or one CRD's schemas); it keeps its compiled nodes.
    """

    def __init__(self, resolve: Resolve | None = None) -> None:
        self._resolve = resolve or _identity
        self._compiled: dict[int, _Node] = {}
        self._keep: list[Mapping[str, Any]] = []  # the compiled nodes' sources, so their ids stay theirs

    def _compile(self, node: Mapping[str, Any]) -> _Node:
        node = self._resolve(node)
        found = self._compiled.get(id(node))
        if found is not None:
            return found
        out = self._compiled[id(node)] = _Node()
        self._keep.append(node)
        accepted = _types(node) or _alternatives(node, self._resolve)
        if accepted:
            out.accepts = frozenset(t for name in accepted for t in _PYTHON_TYPES.get(name, ()))
        properties, extra, items = node.get("properties"), node.get("additionalProperties"), node.get("items")
        if isinstance(properties, Mapping):
            out.properties = {str(k): self._compile(v) for k, v in properties.items() if isinstance(v, Mapping)}
        if isinstance(extra, Mapping):
            out.extra = self._compile(extra)
        if isinstance(items, Mapping):
            out.items = self._compile(items)
        out.open = bool(node.get("x-kubernetes-preserve-unknown-fields"))
        return out

    def clean(self, obj: Mapping[str, Any], root: Mapping[str, Any], *, custom: bool = False) -> bool:
        """Whether ``obj`` has no undeclared field and no value of the wrong type.

        ``custom`` as for :func:`schema_problems`.
        """
        node = self._compile(root)
        if custom:
            obj = {name: value for name, value in obj.items() if name not in _ROOT_FIELDS}
        return _clean(obj, node)


def _clean(value: Any, node: _Node) -> bool:  # noqa: PLR0911 - one early answer per case keeps this hot loop flat
    if value is None or node.accepts is None:
        return True
    kind = type(value)
    if kind not in node.accepts:
        return False
    if kind is dict:
        properties, extra = node.properties, node.extra
        if properties is None and extra is None:
            return True
        for name, child in value.items():
            found = properties.get(name) if properties is not None else None
            if found is None:
                found = extra
            if found is None:
                if not node.open:
                    return False
            elif not _clean(child, found):
                return False
        return True
    if kind is list and node.items is not None:
        items = node.items
        return all(_clean(item, items) for item in value)
    return True


def schema_problems(
    obj: Mapping[str, Any],
    root: Mapping[str, Any],
    *,
    resolve: Resolve | None = None,
    lists: SchemaOverrides | None = None,
    custom: bool = False,
) -> list[SchemaProblem]:
    """Every undeclared field and wrongly typed value of ``obj``, in field order.

    Args:
        obj: The object (list keys the server defaults already filled, for the paths to name them).
        root: Its kind's schema: a built-in definition, or a CRD version's ``openAPIV3Schema``.
        resolve: Follows ``$ref`` (built-in definitions); custom resource schemas need none.
        lists: The kind's list types, to name keyed-list items by their keys.
        custom: A custom resource: ``apiVersion``, ``kind`` and ``metadata`` are always accepted at the root.
    """
    walk = _Walk(resolve or _identity, lists, custom=custom)
    return list(walk.fields(obj, (resolve or _identity)(root), "", ()))


def without_undeclared(
    obj: Mapping[str, Any], root: Mapping[str, Any], *, resolve: Resolve | None = None, custom: bool = False
) -> dict[str, Any]:
    """A copy of ``obj`` without the fields its schema does not declare, as the server drops them on a write.

    Arguments as for :func:`schema_problems`; values of the wrong type are left for it to report.
    """
    follow = resolve or _identity

    def prune(value: Any, node: Mapping[str, Any], top: bool) -> Any:
        node = follow(node)
        if isinstance(value, dict):
            properties = node.get("properties")
            extra = node.get("additionalProperties")
            if not isinstance(properties, Mapping) and not isinstance(extra, Mapping):
                return value
            declared: Mapping[str, Any] = properties if isinstance(properties, Mapping) else {}
            out: dict[str, Any] = {}
            for name, child in value.items():
                schema = declared.get(name)
                if isinstance(schema, Mapping):
                    out[name] = prune(child, schema, False)
                elif isinstance(extra, Mapping):
                    out[name] = prune(child, extra, False)
                elif node.get("x-kubernetes-preserve-unknown-fields") or (custom and top and name in _ROOT_FIELDS):
                    out[name] = child
            return out
        items = node.get("items")
        if isinstance(value, list) and isinstance(items, Mapping):
            return [prune(item, items, False) for item in value]
        return value

    pruned: dict[str, Any] = prune(obj, root, True)
    return pruned
