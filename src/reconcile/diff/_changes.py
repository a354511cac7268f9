"""One difference between two objects, and the structural diff that finds them.

Paths are RFC 6901 JSON pointers. Items of keyed lists (containers by ``name``, ports by port and protocol...)
are paired by key, not by position, so inserting a container reports one ``add`` rather than a cascade of
replacements; keys come from the schema where it knows the list, else from :data:`LIST_KEYS`. A path names the
item's index in the live list, except for an added item, whose index is the one it would have in the predicted
list. Kept items found in another order make one replacement of the whole list. This is the only module that
imports ``jsonpointer`` (:func:`pointer` and :func:`pointer_parts` serve the others).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import attrs
import jsonpointer

from reconcile.jsonvalues import json_equal

Op = Literal["add", "remove", "replace"]
Path = tuple[str | int, ...]

_SYMBOLS: dict[str, str] = {"add": "+", "remove": "-", "replace": "~"}
_MAX_SHOWN = 100
# Strings that would read as another JSON type (or as our own separators) are shown quoted.
_AMBIGUOUS = re.compile(
    r"-?\d+(\.\d+)?([eE][-+]?\d+)?|true|false|null|[\[{\"].*|.*( -> |[\x00-\x1f]).*|\s.*|.*\s", re.DOTALL
)

LIST_KEYS: tuple[tuple[str, ...], ...] = (
    ("name",),
    ("containerPort", "protocol"),
    ("port", "protocol"),
    ("mountPath",),
    ("devicePath",),
    ("ip",),
    ("topologyKey", "whenUnsatisfiable"),
    ("type",),
)
"""Field sets that identify items of a list of maps, tried in order (the merge keys of the built-in kinds).

A set is used only when every item of both lists has all its fields and no two items of one list share a key;
otherwise the list is compared by position.
"""


@attrs.frozen(kw_only=True)
class Change:
    """One difference between the live object and the predicted one.

    Attributes:
        op: ``add`` (only in the predicted object), ``remove`` (only in live) or ``replace``.
        path: Where, as an RFC 6901 JSON pointer (``/metadata/labels/app.kubernetes.io~1name``).
        old: The live value (``None`` for ``add``).
        new: The predicted value (``None`` for ``remove``).
    """

    op: Op
    path: str
    old: Any = attrs.field(default=None, hash=False)
    new: Any = attrs.field(default=None, hash=False)

    def __str__(self) -> str:
        if self.op == "remove":
            return f"- {self.path}"
        if self.op == "add":
            return f"+ {self.path}: {format_value(self.new)}"
        return f"~ {self.path}: {format_value(self.old)} -> {format_value(self.new)}"

    @property
    def symbol(self) -> str:
        """``+``, ``-`` or ``~``."""
        return _SYMBOLS[self.op]


def format_value(value: Any) -> str:
    """A short one-line rendering: plain strings as they are, anything else as compact JSON."""
    if isinstance(value, str) and value and not _AMBIGUOUS.fullmatch(value):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def pointer(parts: Sequence[str | int]) -> str:
    """The JSON pointer of a path given as keys and list indices."""
    return "".join("/" + jsonpointer.escape(str(part)) for part in parts)


def pointer_parts(text: str) -> tuple[str, ...]:
    """The unescaped parts of a JSON pointer; ``ValueError`` says why a text is not one."""
    try:
        return tuple(jsonpointer.JsonPointer(text).parts)
    except jsonpointer.JsonPointerException as err:
        raise ValueError(str(err)) from None


ListKeys = Callable[[tuple[str, ...]], tuple[str, ...]]
"""Gives the key fields of the list at a path of field names (list items contribute no name), or ``()``."""


def diff_values(old: Any, new: Any, *, list_keys: ListKeys | None = None) -> tuple[Change, ...]:
    """Every difference between ``old`` (live) and ``new`` (predicted), in key order; empty when equal.

    Args:
        old: The live value.
        new: The predicted value.
        list_keys: The schema's key fields for a list, tried before the generic :data:`LIST_KEYS`.
    """
    return tuple(_Differ(list_keys or _no_keys).diff(old, new, (), ()))


def _no_keys(_: tuple[str, ...]) -> tuple[str, ...]:
    return ()


@attrs.frozen
class _Differ:
    list_keys: ListKeys

    def diff(self, old: Any, new: Any, path: Path, names: tuple[str, ...]) -> Iterator[Change]:
        """Changes below ``path``; ``names`` are its field names alone (no indices), for the schema."""
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(old.keys() | new.keys()):
                if key not in new:
                    yield Change(op="remove", path=pointer((*path, key)), old=old[key])
                elif key not in old:
                    yield Change(op="add", path=pointer((*path, key)), new=new[key])
                else:
                    yield from self.diff(old[key], new[key], (*path, key), (*names, key))
        elif isinstance(old, list) and isinstance(new, list):
            yield from self._lists(old, new, path, names)
        elif not json_equal(old, new):
            yield Change(op="replace", path=pointer(path), old=old, new=new)

    def _lists(self, old: list[Any], new: list[Any], path: Path, names: tuple[str, ...]) -> Iterator[Change]:
        fields = self._key_fields(old, new, names)
        if fields is not None:
            yield from self._keyed(old, new, fields, path, names)
        elif len(old) == len(new):
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                yield from self.diff(a, b, (*path, index), names)
        else:
            yield Change(op="replace", path=pointer(path), old=old, new=new)

    def _keyed(
        self, old: list[Any], new: list[Any], fields: tuple[str, ...], path: Path, names: tuple[str, ...]
    ) -> Iterator[Change]:
        old_ids = [_identity(item, fields) for item in old]
        new_ids = [_identity(item, fields) for item in new]
        new_index = {ident: index for index, ident in enumerate(new_ids)}
        old_set = set(old_ids)
        # Kept items in another order: a reorder is real drift, and one replacement says it plainly.
        if [i for i in old_ids if i in new_index] != [i for i in new_ids if i in old_set]:
            yield Change(op="replace", path=pointer(path), old=old, new=new)
            return
        for index, ident in enumerate(old_ids):
            if ident in new_index:
                yield from self.diff(old[index], new[new_index[ident]], (*path, index), names)
            else:
                yield Change(op="remove", path=pointer((*path, index)), old=old[index])
        for index, ident in enumerate(new_ids):
            if ident not in old_set:
                yield Change(op="add", path=pointer((*path, index)), new=new[index])

    def _key_fields(self, old: list[Any], new: list[Any], names: tuple[str, ...]) -> tuple[str, ...] | None:
        items = old + new
        if not all(isinstance(item, dict) for item in items):
            return None
        schema_keys = self.list_keys(names)
        for fields in (schema_keys, *LIST_KEYS) if schema_keys else LIST_KEYS:
            has_all = all(all(f in item for f in fields) for item in items)
            if has_all and _unique(old, fields) and _unique(new, fields):
                return fields
        return None


def _unique(items: list[Any], fields: tuple[str, ...]) -> bool:
    idents = [_identity(item, fields) for item in items]
    return len(set(idents)) == len(idents)


def _identity(item: dict[str, Any], fields: tuple[str, ...]) -> str:
    # JSON text, so that unhashable or mixed-type key values still compare exactly.
    return json.dumps([item[f] for f in fields], sort_keys=True, default=str)
