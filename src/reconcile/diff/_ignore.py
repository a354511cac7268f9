"""Argo CD's ``ignoreDifferences``: fields left out of a comparison, on both sides.

An :class:`IgnoreRule` names objects (group, kind, name and namespace, shell-style wildcards as Argo CD
matches them) and the fields to ignore in them: RFC 6901 JSON pointers, jq path expressions, and the fields
that given field managers own in the live object's ``managedFields``. :func:`apply_rules` removes those
fields from the live and the predicted object alike, so ignoring a field can hide a difference but never add
one. This is the only module that imports ``jq``.

jq expressions run in a child process with a time limit per expression: libjq holds the GIL while it
evaluates, so a thread could neither be interrupted nor even be waited for with a timeout, while a child
process can be killed. The limit defaults to Argo CD's one second. A child costs tens of milliseconds per object
that a jq rule matches (one child evaluates every expression on both sides); objects no jq rule matches cost
nothing. The child sees the objects as compared, Secret values already masked.
"""

from __future__ import annotations

import fnmatch
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any

import attrs
import jq  # type: ignore[import-not-found]  # the binding ships no type information

from reconcile.apiserver.fields import FieldSet, as_stored, owners
from reconcile.diff._changes import pointer_parts
from reconcile.errors import ConfigurationError, DiffError
from reconcile.jsonvalues import deep_copy, json_equal
from reconcile.model import Manifest, ResourceKey

JQ_TIMEOUT = 1.0
"""Seconds one jq path expression may run on one object before it counts as hostile."""

_Path = tuple[str | int, ...]
_KEYS = {
    "group": "group",
    "kind": "kind",
    "name": "name",
    "namespace": "namespace",
    "jsonPointers": "json_pointers",
    "jqPathExpressions": "jq_path_expressions",
    "managedFieldsManagers": "managed_fields_managers",
}


def _pointer_parts(text: str) -> tuple[str, ...]:
    try:
        return pointer_parts(text)
    except ValueError as err:
        raise ConfigurationError(f"ignoreDifferences: invalid JSON pointer {text!r}: {err}") from err


def _check_pointers(_: object, __: object, value: tuple[str, ...]) -> None:
    for text in value:
        _pointer_parts(text)


def _check_jq(_: object, __: object, value: tuple[str, ...]) -> None:
    for text in value:
        try:
            jq.compile(f"path({text})")
        except ValueError as err:
            raise ConfigurationError(f"ignoreDifferences: invalid jq path expression {text!r}: {err}") from err


@attrs.frozen(kw_only=True)
class IgnoreRule:
    """Fields to leave out when comparing the objects a rule matches.

    Attributes:
        group: API group pattern (``apps``, ``""`` for the core group, ``*`` for any).
        kind: Kind pattern (``Deployment``, ``*``).
        name: Object name pattern.
        namespace: Namespace pattern (``""`` matches cluster-scoped objects).
        json_pointers: RFC 6901 pointers (``/spec/replicas``, ``/metadata/labels/app.kubernetes.io~1name``);
            one that does not resolve in an object ignores nothing there.
        jq_path_expressions: jq path expressions
            (``.spec.template.spec.containers[] | select(.name == "web") | .image``).
        managed_fields_managers: Field managers (``kube-controller-manager``) whose fields in the live
            object's ``managedFields`` are ignored: each leaf of their FieldsV1 sets, keyed list items matched
            by their key fields on each side. A map or item a manager merely created (``.``) is not ignored
            whole, so one controller's label does not hide every other label.
    """

    group: str = "*"
    kind: str = "*"
    name: str = "*"
    namespace: str = "*"
    json_pointers: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=_check_pointers)
    jq_path_expressions: tuple[str, ...] = attrs.field(default=(), converter=tuple, validator=_check_jq)
    managed_fields_managers: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    @classmethod
    def from_argo(cls, mapping: Mapping[str, Any]) -> IgnoreRule:
        """A rule from one entry of an Argo CD ``ignoreDifferences`` list.

        As in Argo CD, an omitted ``group`` is the core group (``""``): a rule for a Deployment needs
        ``group: apps``. Omitted ``kind``, ``name`` and ``namespace`` match any.

        Raises:
            ConfigurationError: An unknown key, a value of the wrong type, or an invalid pointer or expression.
        """
        if not isinstance(mapping, Mapping):
            raise ConfigurationError(f"ignoreDifferences: a rule must be a mapping, not {type(mapping).__name__}")
        values: dict[str, Any] = {"group": ""}
        for key, value in mapping.items():
            if key not in _KEYS:
                raise ConfigurationError(f"ignoreDifferences: unknown key {key!r} (known: {', '.join(_KEYS)})")
            field = _KEYS[key]
            if field in ("group", "kind", "name", "namespace"):
                if not isinstance(value, str):
                    raise ConfigurationError(f"ignoreDifferences: {key} must be a string, not {value!r}")
                values[field] = value
            elif value is None:
                continue
            elif not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
                raise ConfigurationError(f"ignoreDifferences: {key} must be a list of strings, not {value!r}")
            else:
                values[field] = tuple(value)
        return cls(**values)

    def matches(self, key: ResourceKey) -> bool:
        """Whether the rule applies to the object ``key``."""
        return (
            fnmatch.fnmatchcase(key.group, self.group)
            and fnmatch.fnmatchcase(key.kind, self.kind)
            and fnmatch.fnmatchcase(key.name, self.name)
            and fnmatch.fnmatchcase(key.namespace, self.namespace)
        )


def as_rules(rules: Iterable[IgnoreRule | Mapping[str, Any]]) -> tuple[IgnoreRule, ...]:
    """Rules from typed rules or Argo CD-style mappings.

    Raises:
        ConfigurationError: A mapping is not a valid rule.
    """
    return tuple(rule if isinstance(rule, IgnoreRule) else IgnoreRule.from_argo(rule) for rule in rules)


def apply_rules(
    rules: Sequence[IgnoreRule],
    key: ResourceKey,
    live: Manifest,
    predicted: Manifest,
    *,
    raw_live: Manifest | None = None,
    timeout: float = JQ_TIMEOUT,
) -> tuple[Manifest, Manifest]:
    """``live`` and ``predicted`` without the fields the rules matching ``key`` ignore.

    Args:
        rules: The rules; only those that match ``key`` apply.
        key: The object compared.
        live: The normalized live object.
        predicted: The normalized predicted object.
        raw_live: The live object with its ``managedFields`` (``live`` itself when omitted).
        timeout: Seconds each jq expression may run on each side.

    Returns:
        The two objects without those fields (the very objects passed in when nothing is ignored, which are
        never modified).

    Raises:
        DiffError: A jq expression failed or ran out of time on this object.
    """
    found = _ignored_paths(rules, key, (live, predicted), raw_live if raw_live is not None else live, timeout)
    if found is None:
        return live, predicted
    return _without(live, found[0]), _without(predicted, found[1])


def keep_live_values(
    rules: Sequence[IgnoreRule], key: ResourceKey, target: Manifest, live: Manifest, *, timeout: float = JQ_TIMEOUT
) -> Manifest:
    """``target`` with the live values at every ignored path (Argo CD's ``RespectIgnoreDifferences=true``).

    A field the rules ignore keeps its live value when ``target`` is applied, so the sync does not fight whoever
    owns it (an HPA over ``/spec/replicas``); an ignored field that is not live is left out of ``target``. A live
    value whose parent ``target`` lacks (a list item at an index ``target`` does not have) is not copied.
    """
    found = _ignored_paths(rules, key, (live, target), live, timeout)
    if found is None:
        return target
    # _without shares what it keeps with ``target``: copy before writing into it.
    kept: Manifest = deep_copy(_without(target, [path for path in found[1] if _value_at(live, path) is _GONE]))
    for path in found[0]:
        if path:
            _set_at(kept, path, deep_copy(_value_at(live, path)))
    return kept


def _ignored_paths(
    rules: Sequence[IgnoreRule],
    key: ResourceKey,
    sides: tuple[Manifest, Manifest],
    owned_by: Manifest,
    timeout: float,
) -> list[list[_Path]] | None:
    """The ignored paths found in each side, or ``None`` when no rule matches ``key``."""
    matching = [rule for rule in rules if rule.matches(key)]
    if not matching:
        return None
    pointers = [_pointer_parts(text) for rule in matching for text in rule.json_pointers]
    expressions = [text for rule in matching for text in rule.jq_path_expressions]
    managers = {name for rule in matching for name in rule.managed_fields_managers}
    owned = [as_stored(fields, key.group_kind) for name, fields in owners(owned_by).items() if name in managers]
    found: list[list[_Path]] = [[], []]
    for side, obj in enumerate(sides):
        for parts in pointers:
            path = _resolve(obj, parts)
            if path is not None:
                found[side].append(path)
        for fields in owned:
            found[side] += _owned_paths(obj, fields)
    if expressions:
        for side, paths in enumerate(_jq_paths(expressions, sides, key, timeout)):
            found[side] += paths
    return found


def _has_step(obj: Any, step: str | int) -> bool:
    if isinstance(obj, dict):
        return step in obj
    return isinstance(obj, list) and isinstance(step, int) and step < len(obj)


def _value_at(obj: Any, path: _Path) -> Any:
    for step in path:
        if _has_step(obj, step):
            obj = obj[step]
        else:
            return _GONE
    return obj


def _set_at(obj: Any, path: _Path, value: Any) -> None:
    """Set ``value`` at ``path``, creating missing maps; an index ``obj`` does not have is left alone."""
    for step in path[:-1]:
        if isinstance(obj, dict):
            obj = obj.setdefault(step, {})
        elif _has_step(obj, step):
            obj = obj[step]
        else:
            return
    if isinstance(obj, dict) or _has_step(obj, path[-1]):
        obj[path[-1]] = value


def _resolve(obj: Any, parts: tuple[str, ...]) -> _Path | None:
    path: list[str | int] = []
    for part in parts:
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
            path.append(part)
        elif isinstance(obj, list) and part.isdigit() and (part == "0" or not part.startswith("0")):
            index = int(part)
            if index >= len(obj):
                return None
            obj = obj[index]
            path.append(index)
        else:
            return None
    return tuple(path)


def _owned_paths(obj: Any, fields: FieldSet) -> list[_Path]:
    """Paths in ``obj`` of the leaf fields of a FieldsV1 set (a ``.`` alone only marks its parent as owned)."""
    out: list[_Path] = []

    def walk(value: Any, node: Mapping[str, Any], prefix: _Path) -> None:
        for element, child in node.items():
            if element == ".":
                continue
            for step, inner in _steps(value, element):
                path = (*prefix, step)
                if isinstance(child, Mapping) and any(name != "." for name in child):
                    walk(inner, child, path)
                else:
                    out.append(path)

    walk(obj, fields, ())
    return out


def _steps(value: Any, element: str) -> list[tuple[str | int, Any]]:
    """Where one FieldsV1 path element leads in ``value``: a field, an index, keyed items or set members."""
    kind, text = element[:2], element[2:]
    if kind == "f:":
        return [(text, value[text])] if isinstance(value, dict) and text in value else []
    if not isinstance(value, list):
        return []
    if kind == "i:":
        return [(int(text), value[int(text)])] if text.isdigit() and int(text) < len(value) else []
    try:
        wanted = json.loads(text)
    except ValueError:
        return []
    if kind == "k:" and isinstance(wanted, dict):
        return [(index, item) for index, item in enumerate(value) if _has_key(item, wanted)]
    return [(index, item) for index, item in enumerate(value) if kind == "v:" and json_equal(item, wanted)]


def _has_key(item: Any, key: dict[str, Any]) -> bool:
    return isinstance(item, dict) and all(name in item and json_equal(item[name], v) for name, v in key.items())


_GONE = object()


def _without(obj: Manifest, paths: list[_Path]) -> Manifest:
    """A copy of ``obj`` without ``paths`` (list indices count in the original object)."""
    if not paths:
        return obj
    tree: dict[Any, Any] = {}
    for path in paths:
        if not path:
            continue  # the whole object: nothing to compare is not what a rule means
        node = tree
        for step in path[:-1]:
            child = node.get(step)
            if child is _GONE:
                break  # an enclosing field is already gone
            if child is None:
                child = node[step] = {}
            node = child
        else:
            node[path[-1]] = _GONE
    result: Manifest = _prune(obj, tree)
    return result


def _prune(value: Any, tree: Any) -> Any:
    if tree is _GONE:
        return _GONE
    if isinstance(value, dict):
        kept = {name: _prune(child, tree[name]) if name in tree else child for name, child in value.items()}
        return {name: child for name, child in kept.items() if child is not _GONE}
    if isinstance(value, list):
        items = [_prune(child, tree[index]) if index in tree else child for index, child in enumerate(value)]
        return [item for item in items if item is not _GONE]
    return value


# ----------------------------------------------------------------------------------------------------
# jq, in a child process that can be killed.

# The child reads the expressions and both sides as one JSON document, says it is ready once libjq is loaded,
# then writes one JSON line per expression and side, as soon as each is evaluated.
_CHILD = """
import json, sys
import jq
job = json.load(sys.stdin)
print('ready', flush=True)
for text in job['expressions']:
    program = jq.compile('path(' + text + ')')
    for obj in job['sides']:
        try:
            answer = ['ok', program.input_value(obj).all()]
        except ValueError as err:
            answer = ['error', str(err)]
        print(json.dumps(answer), flush=True)
"""
_STARTUP = 30.0  # seconds for the child interpreter to start, on a loaded machine


def _jq_paths(
    expressions: list[str], sides: tuple[Manifest, Manifest], key: ResourceKey, timeout: float
) -> list[list[_Path]]:
    """Each side's paths for every expression, evaluated in a child process killed when one runs too long."""
    job = json.dumps({"expressions": expressions, "sides": list(sides)}).encode()
    found: list[list[_Path]] = [[] for _ in sides]
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as child:
        stdin, stdout = child.stdin, child.stdout
        if stdin is None or stdout is None:  # pragma: no cover - both are pipes, as asked
            raise DiffError("ignoreDifferences: no pipe to the jq process", key=key)
        try:
            stdin.write(job)
            stdin.close()
            lines = _Lines(stdout)
            if lines.next(_STARTUP) != b"ready":
                raise DiffError(f"ignoreDifferences: jq could not start to evaluate {key}", key=key)
            for text in expressions:
                for side in range(len(sides)):
                    line = lines.next(timeout)
                    if line is None:
                        raise DiffError(
                            f"ignoreDifferences: jq path expression {text!r} ran longer than {timeout:g}s", key=key
                        )
                    status, answer = json.loads(line)
                    if status != "ok":
                        raise DiffError(f"ignoreDifferences: jq path expression {text!r} failed: {answer}", key=key)
                    found[side] += [tuple(path) for path in answer if _plain_path(path)]
        except BrokenPipeError as err:
            raise DiffError(f"ignoreDifferences: jq stopped while evaluating {key}", key=key) from err
        finally:
            child.kill()
    return found


def _plain_path(path: list[Any]) -> bool:
    # Slices (``.[1:3]``) and negative indices name no single field on both sides alike: they ignore nothing.
    return all(isinstance(step, str) or (type(step) is int and step >= 0) for step in path)


class _Lines:
    """Lines of a pipe, each awaited at most a given time."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._fd = pipe.fileno()
        self._buffer = b""
        self._closed = False

    def next(self, timeout: float) -> bytes | None:
        """The next line without its newline; ``None`` when none came in ``timeout`` seconds or the pipe closed."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if self._closed or left <= 0 or not select.select([self._fd], [], [], left)[0]:
                return None
            chunk = os.read(self._fd, 65536)
            self._closed = not chunk
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line
