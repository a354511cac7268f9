"""Known-type fields: a field of a custom resource compared as the Kubernetes type it holds.

A custom resource is stored as the JSON it was given, so the canonical forms of built-in kinds do not apply to
it: a PodSpec inside an Argo Rollout or a CronJob-like operator keeps ``cpu: 1000m`` and ``env: []`` as
written, while its controller may write them back as ``cpu: "1"`` and nothing. Registering the field, as
Argo CD's ``knownTypeFields`` customization does, compares it as the built-in type: resource quantities by
value, empty lists as absent, and ``meta/v1/Duration`` strings in Go's spelling (``90m`` is ``1h30m0s``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from reconcile.apiserver import canonical_duration, is_builtin_group
from reconcile.diff._quantities import canonical, with_canonical_quantities
from reconcile.errors import ConfigurationError
from reconcile.jsonvalues import without_empty_lists
from reconcile.model import GroupKind

DURATION = "meta/v1/Duration"
QUANTITY = "resource/Quantity"
_TYPE = re.compile(r"(?P<group>[a-z0-9.-]+)/(?P<version>v[0-9][a-z0-9]*)/(?P<kind>[A-Z][A-Za-z0-9]*)")


def _builtin_struct(value: Any) -> Any:
    return with_canonical_quantities(without_empty_lists(value))


def _canonical_form(type_name: str) -> Callable[[Any], Any]:
    if type_name == DURATION:
        return canonical_duration
    if type_name == QUANTITY:
        return canonical
    match = _TYPE.fullmatch(type_name)
    group = match["group"] if match else ""
    if match is None or not is_builtin_group("" if group == "core" else group):
        raise ConfigurationError(
            f"known type {type_name!r}: expected {DURATION!r}, {QUANTITY!r} or a built-in type such as "
            "'core/v1/PodSpec' (group/version/Type, 'core' for the core group)"
        )
    return _builtin_struct


def _path(text: str) -> tuple[str, ...]:
    steps = tuple(text.split("."))
    if not text or any(not step or step == "[]" for step in steps):
        raise ConfigurationError(f"known type field {text!r}: expected a dotted path such as 'spec.template.spec'")
    return steps


@attrs.frozen(kw_only=True)
class KnownTypeField:
    """A field of a kind that holds a Kubernetes type, compared in that type's canonical form.

    Attributes:
        group: The kind's API group (``argoproj.io``).
        kind: The kind (``Rollout``).
        field: Dotted path to the field (``spec.template.spec``); a step ending in ``[]`` walks every item of a
            list (``spec.workers[].template.spec``).
        type: ``group/version/Type`` of a built-in type (``core/v1/PodSpec``, ``core/v1/Container``,
            ``core/v1/ResourceRequirements``), ``meta/v1/Duration`` or ``resource/Quantity``.
    """

    group: str
    kind: str
    field: str = attrs.field()
    type: str = attrs.field()
    _steps: tuple[str, ...] = attrs.field(init=False, repr=False, eq=False)
    _form: Callable[[Any], Any] = attrs.field(init=False, repr=False, eq=False)

    @field.validator
    def _check_field(self, _: object, value: str) -> None:
        _path(value)

    @type.validator
    def _check_type(self, _: object, value: str) -> None:
        _canonical_form(value)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_steps", _path(self.field))
        object.__setattr__(self, "_form", _canonical_form(self.type))

    @classmethod
    def from_argo(cls, group_kind: str, mapping: Mapping[str, Any]) -> KnownTypeField:
        """A field from one ``knownTypeFields`` entry of an Argo CD resource customization.

        Args:
            group_kind: The customization's key, ``argoproj.io/Rollout`` (``Kind`` alone for the core group).
            mapping: The entry, ``{"field": "spec.template.spec", "type": "core/v1/PodSpec"}``.

        Raises:
            ConfigurationError: The entry is not a mapping of ``field`` and ``type`` strings, or names an
                unknown type.
        """
        group, _, kind = group_kind.rpartition("/")
        if not isinstance(mapping, Mapping) or set(mapping) != {"field", "type"}:
            raise ConfigurationError(f"knownTypeFields of {group_kind}: expected {{field, type}}, got {mapping!r}")
        field, type_name = mapping["field"], mapping["type"]
        if not isinstance(field, str) or not isinstance(type_name, str):
            raise ConfigurationError(f"knownTypeFields of {group_kind}: field and type must be strings")
        return cls(group=group, kind=kind, field=field, type=type_name)

    def normalize(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` with this field in canonical form: a new object where it changes, sharing the rest."""
        result: dict[str, Any] = _rewrite(obj, self._steps, self._form)
        return result


def _rewrite(value: Any, steps: tuple[str, ...], form: Callable[[Any], Any]) -> Any:
    if not steps:
        return form(value)
    step, rest = steps[0], steps[1:]
    name, each = (step[:-2], True) if step.endswith("[]") else (step, False)
    if not isinstance(value, dict) or name not in value:
        return value
    child = value[name]
    if each:
        if not isinstance(child, list):
            return value
        return {**value, name: [_rewrite(item, rest, form) for item in child]}
    return {**value, name: _rewrite(child, rest, form)}


def normalize_known_types(obj: dict[str, Any], group_kind: GroupKind, fields: Iterable[KnownTypeField]) -> Any:
    """``obj`` with every registered field of its kind in canonical form (``obj`` itself when none applies)."""
    for known in fields:
        if known.group == group_kind.group and known.kind == group_kind.kind:
            obj = known.normalize(obj)
    return obj
