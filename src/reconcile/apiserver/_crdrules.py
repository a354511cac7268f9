"""CustomResourceDefinition validation rules (``x-kubernetes-validations``), checked as the API server checks them.

Each rule is a CEL expression over ``self`` (the value at the rule's place in the schema) and, for a transition
rule, ``oldSelf`` (the same value before the update; such a rule is checked only when both exist, unless it says
``optionalOldSelf``). Items of keyed lists are matched with their old selves by key; items of other lists and
entries of maps by position and name. A refused object gets one error per broken rule, worded as the server
words them (``spec.name: Invalid value: "x": name must start with q-``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from reconcile.apiserver._cel import CelError, CelPrograms

_ABSENT = object()


@attrs.frozen
class RuleViolation:
    """One broken rule.

    Attributes:
        field: Where, as the server names it (``spec.items[0].name``).
        message: The server's words for it, including the invalid value where one is shown.
    """

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _mentions_old_self(rule: str) -> bool:
    return "oldSelf" in rule


def _shown(value: Any, message: str) -> str:
    """``Invalid value: "x": message`` for a scalar; objects and lists are not shown, as the server omits them."""
    if isinstance(value, dict | list):
        return f"Invalid value: {message}"
    return f"Invalid value: {json.dumps(value)}: {message}"


class _Walk:
    def __init__(self, programs: CelPrograms) -> None:
        self.programs = programs

    def rules(self, value: Any, old: Any, node: Mapping[str, Any], field: str) -> Iterator[RuleViolation]:
        for rule in node.get("x-kubernetes-validations") or ():
            if isinstance(rule, Mapping) and rule.get("rule"):
                found = self.rule(rule, value, old, field)
                if found is not None:
                    yield found

    def rule(self, rule: Mapping[str, Any], value: Any, old: Any, field: str) -> RuleViolation | None:
        text = str(rule["rule"])
        transition = _mentions_old_self(text)
        if transition and old is _ABSENT and not rule.get("optionalOldSelf"):
            return None
        data = {"self": value, "oldSelf": None if old is _ABSENT else old}
        where = field + (str(rule.get("fieldPath") or "") if rule.get("fieldPath") else "")
        try:
            if self.programs.evaluate(text, data) is True:
                return None
        except CelError as exc:
            return RuleViolation(where, _shown(value, f"{exc} evaluating rule: {text}"))
        return RuleViolation(where, _shown(value, self.message(rule, data, text)))

    def message(self, rule: Mapping[str, Any], data: Mapping[str, Any], text: str) -> str:
        expression = rule.get("messageExpression")
        if expression:
            try:
                found = self.programs.evaluate(str(expression), data)
                if isinstance(found, str) and found.strip():
                    return found
            except CelError:
                pass  # the server falls back to the static message, then to the rule
        return str(rule.get("message") or f"failed rule: {text}")

    def value(self, value: Any, old: Any, node: Mapping[str, Any], field: str) -> Iterator[RuleViolation]:
        if value is None:
            return
        yield from self.rules(value, old, node, field)
        if isinstance(value, dict):
            yield from self.fields(value, old if isinstance(old, dict) else _ABSENT, node, field)
        elif isinstance(value, list):
            items = node.get("items")
            if isinstance(items, Mapping):
                yield from self.items(value, old if isinstance(old, list) else _ABSENT, node, items, field)

    def fields(self, value: dict[str, Any], old: Any, node: Mapping[str, Any], field: str) -> Iterator[RuleViolation]:
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        for name, child in value.items():
            schema = properties.get(name) if isinstance(properties, Mapping) else None
            if not isinstance(schema, Mapping):
                schema = extra if isinstance(extra, Mapping) else None
            if schema is not None:
                previous = old.get(name, _ABSENT) if isinstance(old, dict) else _ABSENT
                where = f"{field}.{name}" if field else name
                yield from self.value(child, previous, schema, where)

    def items(
        self, value: list[Any], old: Any, node: Mapping[str, Any], items: Mapping[str, Any], field: str
    ) -> Iterator[RuleViolation]:
        keys = [str(k) for k in node.get("x-kubernetes-list-map-keys") or ()]
        keyed = node.get("x-kubernetes-list-type") == "map" and keys
        previous: dict[str, Any] = {}
        if keyed and isinstance(old, list):
            previous = {_key(item, keys): item for item in old if isinstance(item, dict)}
        for index, item in enumerate(value):
            before = previous.get(_key(item, keys), _ABSENT) if keyed and isinstance(item, dict) else _ABSENT
            yield from self.value(item, before, items, f"{field}[{index}]")


def _key(item: Mapping[str, Any], keys: list[str]) -> str:
    return json.dumps([item.get(k) for k in keys])


def rule_violations(
    obj: Mapping[str, Any], old: Mapping[str, Any] | None, schema: Mapping[str, Any], programs: CelPrograms
) -> list[RuleViolation]:
    """Every rule of ``schema`` that ``obj`` breaks (``old``: the object before an update, for transition rules).

    ``programs`` must declare the variables ``self`` and ``oldSelf``.
    """
    walk = _Walk(programs)
    return list(walk.value(dict(obj), dict(old) if old is not None else _ABSENT, schema, ""))


def rule_compile_errors(schema: Mapping[str, Any], programs: CelPrograms) -> list[tuple[str, str, str]]:
    """``(field, rule, problem)`` for each rule of a CRD version's schema that does not compile."""
    found: list[tuple[str, str, str]] = []

    def walk(node: Mapping[str, Any], field: str) -> None:
        for index, rule in enumerate(node.get("x-kubernetes-validations") or ()):
            text = str(rule.get("rule") or "") if isinstance(rule, Mapping) else ""
            try:
                programs.check(text)
            except CelError as exc:
                found.append((f"{field}.x-kubernetes-validations[{index}].rule", text, str(exc)))
        for name, child in (node.get("properties") or {}).items():
            if isinstance(child, Mapping):
                walk(child, f"{field}.properties[{name}]")
        for name in ("items", "additionalProperties"):
            child = node.get(name)
            if isinstance(child, Mapping):
                walk(child, f"{field}.{name}")

    walk(schema, "spec.validation.openAPIV3Schema")
    return found
